namespace PgRelocate.Online;

/// <summary>
/// How `pgrelocate cutover ID`, run from any terminal, tells the process following the source to switch: a
/// file in the migration's folder. A file rather than a signal: it survives a resumed run and needs no process id.
/// </summary>
public static class CutoverRequest
{
    public const string FileName = "cutover.request";

    /// <summary>The answer to a request the follow could not honour (PgBouncer's PAUSE gave up), read by the waiting `cutover`.</summary>
    public const string RefusedFileName = "cutover.refused";

    public static void Write(string folder)
    {
        File.Delete(Path.Combine(folder, RefusedFileName));
        File.WriteAllText(Path.Combine(folder, FileName), DateTimeOffset.UtcNow.ToString("O"));
    }

    /// <summary>Takes the request back with the reason, which the `cutover` that asked prints: the follow goes on.</summary>
    public static void Refuse(string folder, string reason)
    {
        File.WriteAllText(Path.Combine(folder, RefusedFileName), reason);
        Clear(folder);
    }

    /// <summary>Why the last request was not honoured; null when it was not refused.</summary>
    public static string? Refusal(string folder) => File.Exists(Path.Combine(folder, RefusedFileName)) ? File.ReadAllText(Path.Combine(folder, RefusedFileName)) : null;

    public static bool IsRequested(string folder) => File.Exists(Path.Combine(folder, FileName));

    /// <summary>Takes a request back: it was passed on (an instance's, to its databases), or the follow it asked to switch is gone.</summary>
    public static void Clear(string folder) => File.Delete(Path.Combine(folder, FileName));
}

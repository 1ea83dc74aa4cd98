namespace PgRelocate.Online;

/// <summary>
/// How `pgrelocate cutover ID`, run from any terminal, tells the process following the source to switch: a
/// file in the migration's folder. A file rather than a signal: it survives a resumed run and needs no process id.
/// </summary>
public static class CutoverRequest
{
    public const string FileName = "cutover.request";

    public static void Write(string folder) => File.WriteAllText(Path.Combine(folder, FileName), DateTimeOffset.UtcNow.ToString("O"));

    public static bool IsRequested(string folder) => File.Exists(Path.Combine(folder, FileName));

    /// <summary>Takes a request back: it was passed on (an instance's, to its databases), or the follow it asked to switch is gone.</summary>
    public static void Clear(string folder) => File.Delete(Path.Combine(folder, FileName));
}

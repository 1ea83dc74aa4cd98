using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Poolers;

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

    /// <summary>The PgBouncer a `cutover --pgbouncer` names, for the follow to switch behind: a file only the user may read (the console's password), removed once taken.</summary>
    public const string PgBouncerFileName = "cutover.pgbouncer";

    /// <summary>Writes the request with the PgBouncer to switch behind.</summary>
    public static void Write(string folder, PgBouncerOptions pgbouncer)
    {
        ArgumentNullException.ThrowIfNull(pgbouncer);
        var file = Path.Combine(folder, PgBouncerFileName);
        File.Delete(file);
        using (var stream = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(string.Join('\n', pgbouncer.Admin.ToUrl(showPassword: true), pgbouncer.IniFile, pgbouncer.Entry, pgbouncer.MaxPause.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        Write(folder);
    }

    /// <summary>The PgBouncer the request names, the file removed; null when it names none.</summary>
    public static PgBouncerOptions? TakePgBouncer(string folder)
    {
        var file = Path.Combine(folder, PgBouncerFileName);
        if (!File.Exists(file))
        {
            return null;
        }

        var lines = File.ReadAllLines(file);
        File.Delete(file);
        return new PgBouncerOptions
        {
            Admin = PgConnectionInfo.Parse(lines[0]),
            IniFile = lines[1],
            Entry = lines[2],
            MaxPause = TimeSpan.FromSeconds(double.Parse(lines[3], System.Globalization.CultureInfo.InvariantCulture)),
        };
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

    /// <summary>Refuses a request to a migration that cannot switch: one database of an instance migration, not online, or ended.</summary>
    /// <exception cref="UsageException">Why there is nothing to switch (or where to ask instead).</exception>
    public static void CheckSwitchable(MigrationJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var id = journal.Id;
        if (InstanceJournal.ParentOf(journal) is { } parent)
        {
            throw new UsageException($"Migration {id} moves one database of instance migration {parent}: its databases switch together with 'pgrelocate cutover {parent}'.");
        }

        if (InstanceJournal.IsParent(journal) ? journal.Options.GetValueOrDefault("online") != bool.TrueString : !journal.Steps.Any(s => s.Name == Steps.FollowStep.StepName))
        {
            throw new UsageException($"Migration {id} is not an online migration (migrate --online): there is nothing to switch.");
        }

        if (journal.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Canceled)
        {
            throw new UsageException($"Migration {id} is {journal.Status.ToString().ToLowerInvariant()}: there is nothing to switch.");
        }
    }

    /// <summary>
    /// Waits, at most <paramref name="wait"/>, until the migration a request was written for has switched (completed, or its
    /// way back follows) or ended otherwise; returns its journal as it is then (still running when the wait ran out).
    /// </summary>
    /// <exception cref="PgRelocateException">The follow could not honour the request (<see cref="Refuse"/>): its reason; nothing was switched.</exception>
    public static async Task<MigrationJournal> AwaitSwitchAsync(MigrationJournal journal, TimeSpan wait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            journal = journal.Reload();
            if (journal.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Canceled || Fallback.FallbackRequest.Following(journal))
            {
                break;
            }

            if (Refusal(journal.Folder) is { } refused)
            {
                throw new PgRelocateException(refused + ".");
            }

            await Task.Delay(250, cancellationToken);
        }

        return journal;
    }

    /// <summary>Takes a request back: it was passed on (an instance's, to its databases), or the follow it asked to switch is gone.</summary>
    public static void Clear(string folder) => File.Delete(Path.Combine(folder, FileName));
}

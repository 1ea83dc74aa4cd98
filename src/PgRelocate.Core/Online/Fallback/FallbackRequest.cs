using PgRelocate.Migration;
using PgRelocate.Migration.Steps;

namespace PgRelocate.Online.Fallback;

/// <summary>What `pgrelocate rollback ID` and `finish ID` ask of the way back.</summary>
public enum FallbackEnd
{
    /// <summary>Switch back: the target read-only, its last changes applied to the old source, which takes writes again.</summary>
    Rollback,

    /// <summary>Keep the target: the way back removed from both sides.</summary>
    Finish,
}

/// <summary>
/// How `rollback` and `finish`, run from any terminal, tell the process keeping the old source in step: a file in
/// the migration's folder (as <see cref="CutoverRequest"/>), read at every round; it survives a kill, so a resumed
/// run does what was asked first. A rollback asked stays a rollback: a later finish does not replace it.
/// </summary>
public static class FallbackRequest
{
    public const string FileName = "fallback.request";

    /// <summary>The answer to a request the way back could not honour (PgBouncer's PAUSE gave up), read by the waiting `rollback`.</summary>
    public const string RefusedFileName = "fallback.refused";

    public static void Write(string folder, FallbackEnd end)
    {
        File.Delete(Path.Combine(folder, RefusedFileName));
        if (Read(folder) != FallbackEnd.Rollback)
        {
            File.WriteAllText(Path.Combine(folder, FileName), end.ToString());
        }
    }

    /// <summary>Takes the request back with the reason, which the `rollback` that asked prints: the way back goes on.</summary>
    public static void Refuse(string folder, string reason)
    {
        File.WriteAllText(Path.Combine(folder, RefusedFileName), reason);
        File.Delete(Path.Combine(folder, FileName));
    }

    public static FallbackEnd? Read(string folder) =>
        File.Exists(Path.Combine(folder, FileName)) && Enum.TryParse<FallbackEnd>(File.ReadAllText(Path.Combine(folder, FileName)).Trim(), out var end) ? end : null;

    /// <summary>Refuses to ask <paramref name="end"/> of a migration with no way back following: not started with --fallback, not switched yet, or ended.</summary>
    /// <exception cref="Errors.UsageException">Why there is nothing to end.</exception>
    public static void CheckEndable(MigrationJournal journal, FallbackEnd end)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var id = journal.Id;
        if (!Asked(journal))
        {
            throw new Errors.UsageException($"Migration {id} has no way back: it was not started with --online --fallback.");
        }

        if (journal.Steps.FirstOrDefault(s => s.Name == Steps.FallbackStep.StepName) is { Status: StepStatus.Done } done)
        {
            throw new Errors.UsageException($"The way back of migration {id} has ended already: {done.Summary}.");
        }

        if (!Following(journal))
        {
            throw new Errors.UsageException($"Migration {id} has not switched yet ({journal.Status.ToString().ToLowerInvariant()}): there is nothing to {(end == FallbackEnd.Rollback ? "roll back" : "finish")}; 'pgrelocate cancel {id}' stops it.");
        }
    }

    /// <summary>
    /// Waits, at most <paramref name="wait"/>, while the process running the migration runs it (it ends once the way
    /// back has ended as asked); returns the journal as it is then.
    /// </summary>
    /// <exception cref="Errors.PgRelocateException">The way back could not honour the request (<see cref="Refuse"/>): its reason; nothing was rolled back.</exception>
    public static async Task<MigrationJournal> AwaitEndAsync(MigrationJournal journal, TimeSpan wait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline && journal.Status == MigrationStatus.Running && journal.IsRunningElsewhere())
        {
            if (File.Exists(Path.Combine(journal.Folder, RefusedFileName)))
            {
                throw new Errors.PgRelocateException(File.ReadAllText(Path.Combine(journal.Folder, RefusedFileName)) + ".");
            }

            await Task.Delay(250, cancellationToken);
            journal = journal.Reload();
        }

        return journal;
    }

    /// <summary>True when the migration was started with --fallback.</summary>
    public static bool Asked(MigrationJournal journal) => bool.TryParse(journal.Options.GetValueOrDefault("fallback"), out var on) && on;

    /// <summary>The PgBouncer entry the migration switched through (--pgbouncer, or cutover --pgbouncer); null when none: a rollback turns it back.</summary>
    public static string? PgBouncerEntry(MigrationJournal journal) =>
        journal?.Options.GetValueOrDefault("pgbouncer") is { Length: > 0 } ? journal.Options.GetValueOrDefault("pgbouncerDatabase") : null;

    /// <summary>True once the switch is done and the way back follows (its step runs or waits to be resumed).</summary>
    public static bool Following(MigrationJournal journal) =>
        Asked(journal) && journal.Steps.Any(s => s.Name == CutoverStep.StepName && s.Status == StepStatus.Done)
        && journal.Steps.Any(s => s.Name == Steps.FallbackStep.StepName && s.Status != StepStatus.Done && s.Status != StepStatus.Skipped);
}

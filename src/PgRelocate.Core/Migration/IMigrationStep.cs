using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Migration;

/// <summary>What a step gets: the options, the journal (with earlier steps' outputs) and its own record.</summary>
public sealed class MigrationContext
{
    public required MigrationOptions Options { get; init; }

    public required MigrationJournal Journal { get; init; }

    public required PgBinaries Binaries { get; init; }

    public required IReporter Reporter { get; init; }

    /// <summary>The record of the step being run: set its summary, outputs and tables.</summary>
    public StepRecord Record { get; internal set; } = null!;

    /// <summary>The migration's own folder, for its archive and logs.</summary>
    public string Folder => Journal.Folder;

    /// <summary>A restore the dump step started, following the archive as it was written; the restore step finishes it.</summary>
    internal Steps.FollowingRestoreRun? RestoreInFlight { get; set; }

    /// <summary>
    /// The follow's open session, handed from the follow step to the cutover: the cutover goes on reading where the
    /// follow stopped, instead of a new session that would have the source decode its WAL again from the slot's
    /// restart position while writes are refused. The runner closes it if no step takes it.
    /// </summary>
    internal Online.Follow.Follower? FollowerInFlight { get; set; }
}

/// <summary>
/// One step of a migration. Contract: <see cref="RunAsync"/> may be run again after a crash at any point
/// inside it (a resumed migration redoes an interrupted step), so it must be safe to repeat: it cleans up
/// what a previous, interrupted attempt left. It records what later steps need in
/// <see cref="MigrationContext.Record"/>, never secrets.
/// </summary>
public interface IMigrationStep
{
    /// <summary>The step's name in the journal, the progress display and the report.</summary>
    string Name { get; }

    /// <summary>Null when the step runs with these options; otherwise why it is skipped.</summary>
    string? SkipReason(MigrationOptions options);

    Task RunAsync(MigrationContext context, CancellationToken cancellationToken);
}

/// <summary>A step whose effect is undone when the migration fails, is cancelled, or (unless kept) ends.</summary>
public interface ICompensatingStep : IMigrationStep
{
    /// <summary>Undoes the step's effect. Safe to call when the step never ran or was already undone.</summary>
    Task UndoAsync(MigrationContext context, CancellationToken cancellationToken);

    /// <summary>Whether the effect stays in place after a successful migration.</summary>
    bool KeepOnSuccess(MigrationOptions options);
}

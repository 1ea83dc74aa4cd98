using PgRelocate.Migration;
using PgRelocate.Online.Steps;

namespace PgRelocate.Online;

/// <summary>
/// What an online migration whose process is gone may have left, as its journal says, for <c>cancel</c> to name:
/// the undo itself is the steps' own (<see cref="SnapshotCopyStep"/>'s, <see cref="FollowStep"/>'s), run by the runner.
/// </summary>
public static class OnlineCleanup
{
    /// <summary>True when the journal records a slot this migration created and nothing has removed since.</summary>
    public static bool LeftOnSource(MigrationJournal journal) => journal.Output(SnapshotCopyStep.StepName, SnapshotCopyStep.Slot) is not null;

    /// <summary>
    /// What an online migration that did not complete leaves on the target once stopped (its snapshot copy had
    /// begun): the rows copied and applied so far, a partial copy; null when it left nothing there.
    /// </summary>
    public static string? PartialCopyLeft(MigrationJournal journal) =>
        journal.Status != MigrationStatus.Completed && journal.Steps.FirstOrDefault(s => s.Name == SnapshotCopyStep.StepName)?.StartedAt is not null
            ? $"The target ({journal.Target}) keeps what was copied and applied before the migration stopped: a partial copy of the source, not for use as it is. A new migration into it empties it first; or drop its tables yourself."
            : null;

    /// <summary>True when the journal says the tool's schema is on the target and no undo could reach it (see <see cref="SnapshotCopyStep.TargetSchemaLeft"/>).</summary>
    public static bool LeftOnTarget(MigrationJournal journal) => journal.Output(SnapshotCopyStep.StepName, SnapshotCopyStep.TargetSchemaLeft) is not null;
}

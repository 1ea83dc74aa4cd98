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
    public static bool LeftOnSource(MigrationJournal journal) => journal.Output(SnapshotCopyStep.StepName, "slot") is not null;

    /// <summary>True when the journal says the tool's schema is on the target and no undo could reach it (see <see cref="SnapshotCopyStep.TargetSchemaLeft"/>).</summary>
    public static bool LeftOnTarget(MigrationJournal journal) => journal.Output(SnapshotCopyStep.StepName, SnapshotCopyStep.TargetSchemaLeft) is not null;
}

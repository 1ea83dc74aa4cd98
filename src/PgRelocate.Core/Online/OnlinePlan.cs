using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Online.Steps;

namespace PgRelocate.Online;

/// <summary>
/// The steps of an online migration, run by the same runner, journal, --resume, status and cancel as every
/// migration. The source stays writable through the copy and the follow; it becomes read-only only for the
/// cutover (and stays so after it: the applications now write to the target).
/// </summary>
public static class OnlinePlan
{
    public static IReadOnlyList<IMigrationStep> Steps() =>
    [
        new CheckStep(),
        new OnlineCheckStep(),
        new SnapshotCopyStep(),
        new SettingsStep(),
        new FollowStep(),
        new ReadOnlySourceStep(),
        new OnlineCutoverStep(),
        new CutoverStep(),
    ];
}

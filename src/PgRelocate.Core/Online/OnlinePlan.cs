using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Online.Steps;

namespace PgRelocate.Online;

/// <summary>
/// The steps of an online migration, run by the same runner, journal, --resume, status and cancel as every
/// migration. The source stays writable through the copy and the follow; it becomes read-only only for the
/// cutover (and stays so after it: the applications now write to the target; with --fallback the way back
/// writes it until `rollback` or `finish`). With --roles, the roles are
/// created before the snapshot copy and the owners and grants given after it, before the follow: the follow
/// then writes as a member of every owner, as the cutover's enabling of the triggers requires.
/// </summary>
public static class OnlinePlan
{
    public static IReadOnlyList<IMigrationStep> Steps() =>
    [
        new CheckStep(),
        new OnlineCheckStep(),
        new RolesStep(),
        new SnapshotCopyStep(),
        new OwnersStep(),
        new SettingsStep(),
        new FollowStep(),
        new ReadOnlySourceStep(),
        new OnlineCutoverStep(),
        new FallbackCaptureStep(),
        new CutoverStep(),
        new FallbackStep(),
    ];

    /// <summary>
    /// The steps of a migration with these options: this plan when online, else <see cref="MigrationPlan.Steps()"/>.
    /// Chosen here, not in Migration: Online builds on Migration, which must not know of it.
    /// </summary>
    public static IReadOnlyList<IMigrationStep> StepsFor(MigrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Online ? Steps() : MigrationPlan.Steps();
    }

    /// <summary>The steps of the migration <paramref name="journal"/> records, chosen from its options: what <c>cancel</c> undoes with.</summary>
    public static IReadOnlyList<IMigrationStep> StepsFor(MigrationJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        return bool.TryParse(journal.Options.GetValueOrDefault("online"), out var online) && online ? Steps() : MigrationPlan.Steps();
    }
}

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

    /// <summary>
    /// The journal of a new migration with these options (checked: <see cref="MigrationOptions.ValidateAsync"/>), in
    /// <paramref name="workDir"/>: the steps <see cref="StepsFor(MigrationOptions)"/> chooses, the options and
    /// <paramref name="report"/>'s path recorded. The one way a migration of one database begins.
    /// </summary>
    public static MigrationJournal CreateJournal(string workDir, MigrationOptions options, string? report)
    {
        ArgumentNullException.ThrowIfNull(options);
        return MigrationJournal.Create(workDir, options, StepsFor(options).Select(s => s.Name), report);
    }

    /// <summary>
    /// The journals of a new instance migration (<c>--databases</c>, <c>--all-databases</c>): the options checked for it
    /// (<see cref="InstanceDatabases.Validate"/>), the databases listed (<paramref name="named"/>, or every one when
    /// <paramref name="all"/>), and the parent's and the children's journals written (<see cref="InstanceJournal.Create"/>).
    /// </summary>
    /// <exception cref="Errors.UsageException">The options or the names refused; nothing was written.</exception>
    public static async Task<MigrationJournal> CreateInstanceJournalAsync(string workDir, MigrationOptions given, IReadOnlyList<string>? named, bool all, bool confirmAll, string? report, CancellationToken cancellationToken)
    {
        var options = InstanceDatabases.Validate(given, named is not null, all);
        if (named is { Count: 0 })
        {
            throw new Errors.UsageException("--databases names no database: write --databases a,b.");
        }

        var databases = await InstanceDatabases.ResolveAsync(options.Source, named, cancellationToken);
        return InstanceJournal.Create(workDir, options, databases, confirmAll, report, StepsFor(options));
    }

    /// <summary>Runs (or resumes) the migration <paramref name="journal"/> records with the steps of these options (<see cref="MigrationRunner.RunAsync"/>).</summary>
    public static Task<Errors.ExitCode> RunAsync(MigrationOptions options, MigrationJournal journal, Tools.PgBinaries binaries, Progress.IReporter reporter, CancellationToken cancellationToken) =>
        new MigrationRunner(StepsFor(options), binaries, reporter).RunAsync(options, journal, cancellationToken);

    /// <summary>Runs (or resumes) the instance migration <paramref name="parent"/> records (<see cref="InstanceRunner.RunAsync"/>): online, its databases are switched together.</summary>
    public static Task<Errors.ExitCode> RunInstanceAsync(MigrationOptions options, MigrationJournal parent, Tools.PgBinaries binaries, Progress.IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new InstanceRunner(StepsFor(options), binaries, reporter, options.Online ? new InstanceSwitch() : null).RunAsync(options, parent, cancellationToken);
    }

    /// <summary>
    /// Cancels the migration <paramref name="journal"/> records that no process runs: by the instance runner for an
    /// instance migration (each database's migration undone), else by the runner of its recorded steps
    /// (<see cref="MigrationRunner.CancelAbandonedAsync"/>).
    /// </summary>
    public static Task CancelAbandonedAsync(MigrationJournal journal, Connections.PgConnectionInfo? source, Connections.PgConnectionInfo? target, Connections.PgConnectionInfo? pgbouncerAdmin, Tools.PgBinaries binaries, Progress.IReporter reporter, CancellationToken cancellationToken)
    {
        var steps = StepsFor(journal);
        return InstanceJournal.IsParent(journal)
            ? new InstanceRunner(steps, binaries, reporter).CancelAbandonedAsync(journal, source, target, cancellationToken)
            : new MigrationRunner(steps, binaries, reporter).CancelAbandonedAsync(journal, source, target, cancellationToken, pgbouncerAdmin);
    }

    /// <summary>The steps of the migration <paramref name="journal"/> records, chosen from its options: what <c>cancel</c> undoes with.</summary>
    public static IReadOnlyList<IMigrationStep> StepsFor(MigrationJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        return bool.TryParse(journal.Options.GetValueOrDefault("online"), out var online) && online ? Steps() : MigrationPlan.Steps();
    }
}

using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Preflight;
using PgRelocate.Progress;
using PgRelocate.Targets;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// The preflight checks, source and target. A blocker stops the migration (exit 3) unless the user overrides
/// that check by name with --allow; the target holding objects is allowed by the migration's --confirm.
/// </summary>
internal sealed class CheckStep : IMigrationStep
{
    public const string StepName = "check";

    /// <summary>The check a migration's --confirm overrides: replacing the target's objects is what it confirms.</summary>
    private const string TargetEmptyCheck = "target empty";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        // Measured first, on servers only it reads and writes: the direct copy starting beside the checks would halve its rates.
        var estimate = await EstimateAsync(context, cancellationToken);

        // A direct copy reads and checks both sides beside these checks, and writes nothing until they pass.
        var beside = DirectCopyStep.StartBesideChecks(context, cancellationToken);
        try
        {
            await CheckAsync(context, estimate, cancellationToken);
        }
        catch (Exception e) when (beside && !cancellationToken.IsCancellationRequested && Transience.IsTransient(e))
        {
            // The copy's sessions may have taken what the checks needed (the last of a source's connection slots):
            // the checks again, alone, and the copy after them.
            context.Reporter.Log(Progress.LogLevel.Debug, $"The checks failed beside the copy's start ({Failures.Operational(e)?.Message ?? e.Message}); checking again without it.");
            await DirectCopyStep.StopBesideChecksAsync(context);
            context.Record.Tables.Clear();
            await CheckAsync(context, estimate, cancellationToken);
        }
    }

    /// <summary>
    /// check's estimate (<see cref="MigrationOptions.EstimateBudget"/>), corrected by the last migration between these
    /// servers, kept in the journal so that the report sets it beside what the migration takes.
    /// </summary>
    private static async Task<Estimate?> EstimateAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        context.Journal.Estimate = null;
        if (options.EstimateBudget is not { } budget)
        {
            return null;
        }

        // A target database still to create cannot be measured yet: the source's side alone.
        var target = options.DatabaseToCreate is null ? options.Into.Connection : null;
        var with = new EstimateOptions
        {
            Budget = budget,
            Confirm = options.Into.Confirm,
            Jobs = options.Into.Jobs,
            CutoverLag = options.MaxLag,
            Past = EstimateHistory.Latest(Path.GetDirectoryName(context.Folder)!, options.Source, options.Into.Connection, context.Journal.Id),
        };
        var report = await new PreflightRunner([]) { EstimateWith = with, OwnSessions = options.Into.OwnSessions }
            .RunAsync(options.Source, target, context.Binaries, context.Reporter, cancellationToken);
        foreach (var warning in report.Results)
        {
            context.Reporter.Log(Progress.LogLevel.Warning, $"{warning.Found} {warning.Next}");
        }

        if (report.Estimate is not { } estimate)
        {
            return null;
        }

        context.Journal.Estimate = EstimatePair.Of(estimate);
        context.Record.Tables.Add(new ReportTable("Estimate: what it rests on", ["basis"], estimate.Basis.Select(b => (IReadOnlyList<string>)[b]).ToList()));
        var path = options.Online ? $"online: copy about {Units.Duration(TimeSpan.FromSeconds(estimate.CopySeconds))}, write downtime about {(estimate.OnlineDowntimeSeconds is { } d ? Units.Duration(TimeSpan.FromSeconds(d)) : "unknown")}"
            : options.Direct ? $"direct copy about {Units.Duration(TimeSpan.FromSeconds(estimate.CopySeconds))}"
            : $"dump and restore about {Units.Duration(TimeSpan.FromSeconds(estimate.DumpRestoreSeconds))}{(options.Via is null ? "" : ", plus the store's upload and download")}";
        context.Reporter.Info($"Estimate: {path} (the report sets it beside what it takes).");
        context.Journal.Save();
        return estimate;
    }

    /// <summary>
    /// The sessions the migration's copy or restore opens on the target at once, which the checks count its free
    /// connection slots for: the copy's (a direct or an online migration's: the online check counts the follow's too),
    /// or the restore's lanes and index builds (with more than one job it follows the dump, see <c>Restore/ScheduledRestore</c>).
    /// </summary>
    private static SessionCount TargetSessionsOf(MigrationOptions options) =>
        options.Direct || options.Online ? SessionCount.Copy(options.Into.Jobs) : SessionCount.Restore(options.Into.Jobs, scheduled: true);

    /// <summary>The checks; <paramref name="estimate"/>, measured just before, gives the downtime check its figure.</summary>
    private static async Task CheckAsync(MigrationContext context, Estimate? estimate, CancellationToken cancellationToken)
    {
        var options = context.Options;
        // Online, the applications keep writing until the cutover: its advice and downtime, not a dump's.
        var report = await new PreflightRunner(PreflightRunner.DefaultChecks(options.Online)) { KnownEstimate = estimate, OwnSessions = options.Into.OwnSessions, TargetSessions = TargetSessionsOf(options), Roles = options.Roles, RoleRenames = options.RoleRenames, TargetDatabaseToCreate = options.DatabaseToCreate, PrivilegedAttributes = options.PrivilegedAttributes }.RunAsync(options.Source, options.Into.Connection, context.Binaries, context.Reporter, cancellationToken);
        context.Record.Tables.Add(new ReportTable(
            "Preflight checks",
            ["check", "status", "found", "next step"],
            report.Results.Select(r => (IReadOnlyList<string>)[r.Check, r.Status.ToString().ToLowerInvariant(), r.Found, r.Next]).ToList()));
        // Not overridden by --allow: a source the login may not wholly read is refused, as the checks found it (read
        // again only when they could not tell). The checks' sessions carry their name: one still closing when the
        // applications are listed is not among them.
        var own = options.Source.WithApplicationName(ConnectedApplications.CheckApplicationName);
        if (report is { Readability: { } readability, SourceRole: { } role })
        {
            readability.RefuseUnlessWhole(role, ExitCode.Differences);
        }
        else
        {
            await SourceReadability.RefuseUnlessWholeAsync(own, cancellationToken, ExitCode.Differences);
        }

        // The applications to repoint, recorded now (as the checks listed them): a read-only source ends their sessions next.
        if (report.Applications is { } applications)
        {
            context.Record.Tables.Add(ReadOnlySourceStep.ApplicationsTable(applications));
        }
        else
        {
            await using var conn = await Db.OpenAsync(own, "source", cancellationToken);
            context.Record.Tables.Add(ReadOnlySourceStep.ApplicationsTable(await ConnectedApplications.ReadAsync(conn, cancellationToken)));
        }

        var blockers = report.Results.Where(r => r.Status == CheckStatus.Block).ToList();
        var overridden = blockers.Where(b => b.Check == TargetEmptyCheck || (b.Overridable && options.Allow.Contains(b.Check))).ToList();
        var remaining = blockers.Except(overridden).ToList();
        foreach (var b in overridden)
        {
            context.Reporter.Log(Progress.LogLevel.Warning, $"check '{b.Check}' blocks ({b.Found}); going on: {(b.Check == TargetEmptyCheck ? "--confirm allows replacing the target" : "--allow " + b.Check)}.");
        }

        context.Record.Summary = $"{report.Count(CheckStatus.Ok)} ok, {report.Count(CheckStatus.Warn)} warnings, {blockers.Count} blockers{(overridden.Count > 0 ? $" ({overridden.Count} overridden)" : "")}";
        if (remaining.Count > 0)
        {
            var first = remaining[0];
            // --allow is offered only where it lifts the blocker: the target's preparation refuses some whatever the checks said.
            var allow = first.Overridable ? $" (or pass --allow \"{first.Check}\" to go on anyway)" : options.Allow.Contains(first.Check) ? $" (--allow \"{first.Check}\" cannot lift it: the target is refused as it is prepared)" : "";
            throw new PgRelocateException(
                Sentences.NothingWasChanged($"Preflight check '{first.Check}' blocks the migration: {first.Found} {Sentences.End(first.Next).TrimEnd('.')}{allow}{(remaining.Count > 1 ? $"; {remaining.Count - 1} more blockers in the report" : "")}"),
                ExitCode.Differences);
        }
    }
}

using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Preflight;

namespace PgRelocate.Online.Steps;

/// <summary>The prerequisites of an online migration (<see cref="OnlineChecks"/>): a blocker stops it before the source is touched, unless --allow names it.</summary>
internal sealed class OnlineCheckStep : IMigrationStep
{
    public const string StepName = "online check";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        // The target too, for its connection slots: not a database still to create (an instance's), whose server the
        // instance's own check counts for every database at once (InstanceSwitch.BlockerAsync).
        var target = options.DatabaseToCreate is null ? options.Into.Connection : null;
        var report = await new PreflightRunner(OnlineChecks.All(options.ReplicaIdentityFull, options.Into.Jobs)) { OwnSessions = options.Into.OwnSessions }
            .RunAsync(options.Source, target, context.Binaries, context.Reporter, cancellationToken);
        context.Record.Tables.Add(new ReportTable(
            "Online prerequisites",
            ["check", "status", "found", "next step"],
            report.Results.Select(r => (IReadOnlyList<string>)[r.Check, r.Status.ToString().ToLowerInvariant(), r.Found, r.Next]).ToList()));
        var blockers = report.Results.Where(r => r.Status == CheckStatus.Block && !options.Allow.Contains(r.Check)).ToList();
        context.Record.Summary = $"{report.Count(CheckStatus.Ok)} ok, {report.Count(CheckStatus.Warn)} warnings, {blockers.Count} blockers";
        if (blockers.Count > 0)
        {
            var first = blockers[0];
            throw new PgRelocateException(Sentences.NothingWasChanged($"Online prerequisite '{first.Check}' blocks the migration: {first.Found}", first.Next, blockers.Count > 1 ? $"{blockers.Count - 1} more blockers: 'pgrelocate info {context.Journal.Id}' lists them" : null), ExitCode.Differences);
        }
    }
}

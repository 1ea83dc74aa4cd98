using System.Globalization;
using PgRelocate.Migration;
using PgRelocate.Progress;

namespace PgRelocate.Online.Steps;

/// <summary>
/// Streams the source's changes into the target until the cutover: `pgrelocate cutover ID` from any terminal,
/// or, with --cutover auto, as soon as the target has caught up within --max-lag. Interrupted (a crash, a kill),
/// a resumed run continues from the position stored in the target.
/// </summary>
public sealed class FollowStep : IMigrationStep
{
    public const string StepName = "follow";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var follower = OnlineCutoverStep.FollowerFor(context, "follow");
        var auto = options.AutoCutover;
        var maxLag = options.MaxLag.TotalSeconds;
        context.Reporter.Info(auto
            ? $"Following the source; the cutover starts once the target is within {maxLag:0.#}s of it."
            : $"Following the source; switch with 'pgrelocate cutover {context.Journal.Id}'.");
        await follower.RunAsync(
            p => CutoverRequest.IsRequested(context.Folder) || (auto && (p.CaughtUp || (p.LagSeconds > 0 && p.LagSeconds < maxLag))),
            cancellationToken);
        OnlineCutoverStep.Record(context, follower);
        context.Record.Summary = $"{follower.Changes} changes in {follower.Transactions} transactions applied; {(CutoverRequest.IsRequested(context.Folder) ? "cutover requested" : "caught up, automatic cutover")}";
        context.Record.Outputs["changes"] = follower.Changes.ToString(CultureInfo.InvariantCulture);
        context.Reporter.Progress(new ProgressUpdate("follow", follower.Changes, follower.Changes, "changes", Finished: true));
    }
}

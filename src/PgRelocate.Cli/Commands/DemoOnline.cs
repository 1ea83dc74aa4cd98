using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Demo;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Online.Steps;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate demo --online</c>: runs <see cref="OnlineDemo"/> (the sample database moved while an application
/// writes to it) and renders what that application saw of the switch next to the downtime the tool measured.
/// </summary>
internal static class DemoOnline
{
    public static async Task<ExitCode> RunAsync(
        CommandContext ctx, LocalCluster sourceCluster, PgConnectionInfo source, PgConnectionInfo target, string folder, string report, bool pgbouncer, CancellationToken cancellationToken)
    {
        var result = await OnlineDemo.RunAsync(sourceCluster, source, target, folder, report, pgbouncer, ctx.Binaries, ctx.Reporter, cancellationToken);
        ctx.Reporter.Stop();
        Render(ctx, result, target);
        return result.Code;
    }

    private static void Render(CommandContext ctx, OnlineDemoResult result, PgConnectionInfo target)
    {
        var journal = result.Journal;
        InfoCommand.RenderSteps(ctx, journal);
        ctx.Out.WriteLine();
        if (journal.Status != MigrationStatus.Completed)
        {
            ctx.Out.WriteLine($"Migration {journal.Id} {journal.Status.ToString().ToLowerInvariant()}: {journal.Error}");
        }

        var verified = journal.Output(FollowStep.StepName, FollowStep.Verified);
        ctx.Out.WriteLine($"Verification        {(verified is null ? "not passed" : "passed while following: " + verified)}");
        var downtime = journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.WriteDowntime);
        ctx.Out.WriteLine($"Write downtime      {(downtime is not { } d ? "none: no switch" : OnlineDemo.Seconds(d) + ", measured by pgrelocate (source read-only until the target took over)")}");
        if (result.ThroughPgBouncer)
        {
            var pause = journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.ApplicationPause);
            ctx.Out.WriteLine($"PgBouncer's pause   {(pause is not { } p ? "none: no switch" : OnlineDemo.Seconds(p) + $", measured by pgrelocate (PAUSE to RESUME of the entry '{DemoPgBouncer.Entry}', the application's queries waiting there)")}");
        }

        ctx.Out.WriteLine($"Application's gap   {OnlineDemo.Seconds(result.LongestGap)}, the longest time between two successful writes, measured by the application");
        ctx.Out.WriteLine(result.ThroughPgBouncer
            ? $"Application writes  {result.SourceWrites} before the switch, then {result.TargetWrites} after it on the target ({target.Display}), all through PgBouncer with one DATABASE_URL; {result.FailedWrites} refused and tried again"
            : $"Application writes  {result.SourceWrites} to the source, then {result.TargetWrites} to the target ({target.Display}); {result.FailedWrites} refused and tried again");
        if (result.FailedWrites > 0)
        {
            ctx.Out.WriteLine($"It was told         {result.LastError}");
        }
    }
}

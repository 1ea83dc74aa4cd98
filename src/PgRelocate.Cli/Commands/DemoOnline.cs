using System.Globalization;
using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Demo;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Reports;
using PgRelocate.Online;
using PgRelocate.Online.Steps;
using PgRelocate.Poolers;
using PgRelocate.Progress;
using PgRelocate.Targets;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate demo --online</c>: the sample database moved while an application writes to it, by the same
/// plan and runner as <c>migrate --online --cutover auto --report FILE</c>, and what that application saw of
/// the switch next to the downtime the tool measured.
/// </summary>
internal static class DemoOnline
{
    /// <summary>The source's settings for logical decoding, as the tests' online source has them.</summary>
    public static readonly IReadOnlyDictionary<string, string> SourceSettings = new Dictionary<string, string>
    {
        ["wal_level"] = "logical",
        ["max_replication_slots"] = "20",
        ["max_wal_senders"] = "20",
    };

    /// <summary>How many writes the application makes to the source before the migration starts.</summary>
    private const int WarmUpWrites = 200;

    /// <summary>How many writes the application makes to the target after the switch before it stops.</summary>
    private const int WritesAfterSwitch = 300;

    public static async Task<ExitCode> RunAsync(
        CommandContext ctx, LocalCluster sourceCluster, PgConnectionInfo source, PgConnectionInfo target, string folder, string report, bool pgbouncer, CancellationToken cancellationToken)
    {
        var reporter = ctx.Reporter;
        await DemoApplication.PrepareAsync(sourceCluster, source, cancellationToken);

        // With --pgbouncer the application reaches the source through a PgBouncer, whose entry the switch repoints:
        // it keeps its one DATABASE_URL and only waits at PgBouncer while the target takes over.
        await using var bouncer = pgbouncer ? await DemoPgBouncer.StartAsync(folder, source, cancellationToken) : null;
        var behind = bouncer is null ? null : new PgBouncerOptions { Admin = bouncer.Admin, IniFile = bouncer.IniFile, Entry = DemoPgBouncer.Entry };

        // What a user would type: migrate --online --cutover auto --replica-identity-full --confirm DB --report FILE (the
        // sample's audit log has no primary key). The journal goes into the demo's folder, not the user's list.
        var options = await new MigrationOptions
        {
            Source = source,
            Into = new TargetOptions { Connection = target, Confirm = target.Database, Jobs = 2 },
            Online = true,
            AutoCutover = true,
            ReplicaIdentityFull = true,
            PgBouncer = behind,
        }.ValidateAsync(cancellationToken);
        if (behind is not null)
        {
            reporter.Info(await PgBouncerChecks.RunAsync(behind, source, target, ctx.Binaries, cancellationToken));
        }

        var recorded = options.ToJournal();
        recorded["report"] = report;
        var steps = OnlinePlan.StepsFor(options);
        var journal = MigrationJournal.Create(Path.Combine(folder, "migrations"), MigrationJournal.NewId(), source.ToString(), target.ToString(), steps.Select(s => s.Name), recorded);

        // The application moves to the target once the migration says the switch is done, as a deploy that
        // swaps DATABASE_URL would.
        await using var app = bouncer is null
            ? new DemoApplication(source, target, () => OnlineStatus.Read(journal.Folder) is { Phase: OnlinePhases.Switched })
            : new DemoApplication(bouncer.App, bouncer.App, () => false);
        app.Start();
        using var stopTicker = new CancellationTokenSource();
        var ticker = TickAsync(reporter, app, stopTicker.Token);
        ExitCode code;
        try
        {
            using (var warmUp = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                warmUp.CancelAfter(TimeSpan.FromSeconds(30));
                while (app.SourceWrites < WarmUpWrites && !warmUp.IsCancellationRequested)
                {
                    await Task.Delay(50, CancellationToken.None);
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (app.SourceWrites < WarmUpWrites)
                {
                    throw new PgRelocateException($"The demo's application could not write to the source: {app.LastError}");
                }
            }

            reporter.Info($"The application ({DemoApplication.ApplicationName}) writes orders to {source.Display}{(bouncer is null ? "" : $" through PgBouncer's entry '{DemoPgBouncer.Entry}'")}; migrating online with an automatic cutover (journal in {journal.Folder}).");
            code = await new MigrationRunner(steps, ctx.Binaries, reporter).RunAsync(options, journal, cancellationToken);
            if (code == ExitCode.Success && bouncer is not null)
            {
                // Through PgBouncer the application does not know where it writes: what it writes next is on the target.
                app.CountFromHereOnTarget();
            }

            if (code == ExitCode.Success)
            {
                using var settle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                settle.CancelAfter(TimeSpan.FromSeconds(30));
                try
                {
                    await app.WaitForTargetWritesAsync(WritesAfterSwitch, settle.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Shown below: fewer writes on the target than hoped for.
                }
            }
        }
        finally
        {
            await app.StopAsync();
            await stopTicker.CancelAsync();
            await ticker;
        }

        reporter.Stop();
        MigrationReport.Write(journal, report);
        Render(ctx, journal, app, target, bouncer is not null);
        return code;
    }

    /// <summary>The application's own progress line beside the migration's: where it writes, how often, its longest gap.</summary>
    private static async Task TickAsync(IReporter reporter, DemoApplication app, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(1000, cancellationToken);
                var writes = app.SourceWrites + app.TargetWrites;
                reporter.Progress(new ProgressUpdate(
                    "application",
                    writes,
                    null,
                    "writes",
                    $"writing to the {(app.OnTarget ? "target" : "source")}; longest gap between two writes {Seconds(app.LongestGap)}"));
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private static void Render(CommandContext ctx, MigrationJournal journal, DemoApplication app, PgConnectionInfo target, bool pgbouncer)
    {
        InfoCommand.RenderSteps(ctx, journal);
        ctx.Out.WriteLine();
        if (journal.Status != MigrationStatus.Completed)
        {
            ctx.Out.WriteLine($"Migration {journal.Id} {journal.Status.ToString().ToLowerInvariant()}: {journal.Error}");
        }

        var verified = journal.Output(FollowStep.StepName, "verified");
        ctx.Out.WriteLine($"Verification        {(verified is null ? "not passed" : "passed while following: " + verified)}");
        var downtime = journal.Output(OnlineCutoverStep.StepName, "writeDowntimeSeconds");
        ctx.Out.WriteLine($"Write downtime      {(downtime is null ? "none: no switch" : double.Parse(downtime, CultureInfo.InvariantCulture).ToString("0.00", CultureInfo.InvariantCulture) + " s, measured by pgrelocate (source read-only until the target took over)")}");
        if (pgbouncer)
        {
            var pause = journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.ApplicationPauseOutput);
            ctx.Out.WriteLine($"PgBouncer's pause   {(pause is null ? "none: no switch" : double.Parse(pause, CultureInfo.InvariantCulture).ToString("0.00", CultureInfo.InvariantCulture) + $" s, measured by pgrelocate (PAUSE to RESUME of the entry '{DemoPgBouncer.Entry}', the application's queries waiting there)")}");
        }

        ctx.Out.WriteLine($"Application's gap   {Seconds(app.LongestGap)}, the longest time between two successful writes, measured by the application");
        ctx.Out.WriteLine(pgbouncer
            ? $"Application writes  {app.SourceWrites} before the switch, then {app.TargetWrites} after it on the target ({target.Display}), all through PgBouncer with one DATABASE_URL; {app.FailedWrites} refused and tried again"
            : $"Application writes  {app.SourceWrites} to the source, then {app.TargetWrites} to the target ({target.Display}); {app.FailedWrites} refused and tried again");
        if (app.FailedWrites > 0)
        {
            ctx.Out.WriteLine($"It was told         {app.LastError}");
        }
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";
}

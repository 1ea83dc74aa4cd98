using System.Globalization;
using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Demo;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Reports;
using PgRelocate.Poolers;
using PgRelocate.Progress;
using PgRelocate.Targets;
using PgRelocate.Tools;

namespace PgRelocate.Online;

/// <summary>What the demo's application saw of an online migration: its writes on each side and its longest gap.</summary>
/// <param name="Code">How the migration ended.</param>
/// <param name="Journal">The migration's journal (its report written beside it).</param>
/// <param name="LastError">The last error a write met (what the application saw while the source was read-only).</param>
/// <param name="ThroughPgBouncer">The application reached the source through a PgBouncer whose entry the switch repointed.</param>
public sealed record OnlineDemoResult(ExitCode Code, MigrationJournal Journal, long SourceWrites, long TargetWrites, long FailedWrites, TimeSpan LongestGap, string LastError, bool ThroughPgBouncer);

/// <summary>
/// <c>pgrelocate demo --online</c>'s run: the sample database moved while an application writes to it, by the same
/// plan and runner as <c>migrate --online --cutover auto --report FILE</c>, with what that application saw of the
/// switch beside the downtime the tool measured.
/// </summary>
public static class OnlineDemo
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

    /// <summary>
    /// Prepares the application on the source (<paramref name="sourceCluster"/>'s database <paramref name="source"/>), starts it,
    /// migrates online into <paramref name="target"/> with its journal in <paramref name="folder"/>/migrations, lets the
    /// application write to the target a while, stops it and writes the report to <paramref name="report"/>.
    /// </summary>
    public static async Task<OnlineDemoResult> RunAsync(
        LocalCluster sourceCluster, PgConnectionInfo source, PgConnectionInfo target, string folder, string report, bool pgbouncer, PgBinaries binaries, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reporter);
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
            reporter.Info(await PgBouncerChecks.RunAsync(behind, source, target, binaries, cancellationToken));
        }

        var journal = OnlinePlan.CreateJournal(Path.Combine(folder, "migrations"), options, report);

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
            await WarmUpAsync(app, cancellationToken);
            reporter.Info($"The application ({DemoApplication.ApplicationName}) writes orders to {source.Display}{(bouncer is null ? "" : $" through PgBouncer's entry '{DemoPgBouncer.Entry}'")}; migrating online with an automatic cutover (journal in {journal.Folder}).");
            code = await OnlinePlan.RunAsync(options, journal, binaries, reporter, cancellationToken);
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
                    // Said by the result: fewer writes on the target than hoped for.
                }
            }
        }
        finally
        {
            await app.StopAsync();
            await stopTicker.CancelAsync();
            await ticker;
        }

        MigrationReport.Write(journal, report);
        return new OnlineDemoResult(code, journal, app.SourceWrites, app.TargetWrites, app.FailedWrites, app.LongestGap, app.LastError, bouncer is not null);
    }

    /// <summary>Waits, at most 30 seconds, until the application has written to the source <see cref="WarmUpWrites"/> times.</summary>
    private static async Task WarmUpAsync(DemoApplication app, CancellationToken cancellationToken)
    {
        using var warmUp = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
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

    /// <summary>A duration as the demo says it: seconds to the hundredth ("1.25 s").</summary>
    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";
}

using System.CommandLine;
using PgRelocate.Clusters;
using PgRelocate.Demo;
using PgRelocate.Errors;
using PgRelocate.Migration.Reports;
using PgRelocate.Progress;
using PgRelocate.Cli.Rendering;
using PgRelocate.Tools;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate demo</c>: the embedded default. Two throwaway clusters, a sample database, and a real
/// migration between them with the same code paths as the real commands.
/// </summary>
internal static class DemoCommand
{
    private static readonly Option<bool> Keep = new("--keep") { Description = "Keep the clusters running and the folder after the demo, to look around." };
    // demo's --online and --report are its own: an application writes while it migrates, and the report is HTML only.
    private static readonly Option<bool> Online = new("--online") { Description = "Migrate online while an application writes to the source: follow, verify, switch automatically, and show the application's longest gap." };
    // Shares only its name with migrate's --pgbouncer ADMIN_URL: here a flag, the demo starts the PgBouncer itself.
    private static readonly Option<bool> PgBouncer = new("--pgbouncer") { Description = "With --online: the application reaches the source through a throwaway PgBouncer (installed: scripts/setup.sh), and the switch holds its queries there and repoints its entry (as migrate --pgbouncer), so it sees a pause, not an error." };
    private static readonly Option<string?> Report = new("--report") { Description = "With --online: where to write the HTML report (default: a new file under $XDG_STATE_HOME/pgrelocate/reports)." };

    public static Command Create()
    {
        var command = new Command("demo", "Migrate a sample database between two throwaway local clusters: dump, restore, verify (--online: while an application writes).") { Keep, Online, PgBouncer, Report };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var keep = ctx.Parse.GetValue(Keep);
        var online = ctx.Parse.GetValue(Online);
        var pgbouncer = ctx.Parse.GetValue(PgBouncer);
        if (pgbouncer)
        {
            _ = online ? DemoPgBouncer.Binary() : throw new UsageException("--pgbouncer goes with --online: the offline demo has no switch to hold at PgBouncer.");
        }

        var report = ReportPath(ctx.Parse.GetValue(Report), online);
        var reporter = ctx.Reporter;
        var folder = Directory.CreateTempSubdirectory("pgrelocate-demo-").FullName;
        // The servers may run as another account (never as root): they must be able to reach their folders.
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        reporter.Info($"Starting two throwaway PostgreSQL clusters in {folder}.");
        LocalCluster? sourceCluster = null;
        LocalCluster? targetCluster = null;
        try
        {
            var starting = new[]
            {
                LocalCluster.StartAsync(new LocalClusterOptions { Name = "source", ParentDir = folder, Settings = online ? PgRelocate.Online.OnlineDemo.SourceSettings : new Dictionary<string, string>() }, cancellationToken),
                LocalCluster.StartAsync(new LocalClusterOptions { Name = "target", ParentDir = folder }, cancellationToken),
            };
            await Task.WhenAll(starting.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            sourceCluster = starting[0].IsCompletedSuccessfully ? starting[0].Result : null;
            targetCluster = starting[1].IsCompletedSuccessfully ? starting[1].Result : null;
            await Task.WhenAll(starting);

            var source = await sourceCluster!.CreateDatabaseAsync("shop", "shop_owner", cancellationToken);
            var target = await targetCluster!.CreateDatabaseAsync("shop_migrated", "app_user", cancellationToken);
            reporter.Info($"Loading the sample database into {source.Display}.");
            reporter.Progress(new ProgressUpdate("load sample", 0, 1, "database"));
            await SampleDatabase.LoadAsync(sourceCluster, source, cancellationToken);
            reporter.Progress(new ProgressUpdate("load sample", 1, 1, "database", Finished: true));
            if (report is not null)
            {
                var code = await DemoOnline.RunAsync(ctx, sourceCluster, source, target, folder, report, pgbouncer, cancellationToken);
                if (keep)
                {
                    await KeepAsync(ctx, folder, sourceCluster, targetCluster, source, target, cancellationToken);
                }

                ctx.Out.WriteLine($"Report: {report}");
                return code;
            }

            var (manifest, restore, verification) = await OfflineDemo.RunAsync(source, target, folder, ctx.Binaries, reporter, cancellationToken);
            reporter.Stop();

            ctx.Out.WriteLine($"Source   {source.Display} (PostgreSQL {manifest.SourceServerVersion}, {Units.Bytes(manifest.DatabaseSizeBytes)})");
            ctx.Out.WriteLine($"Dump     {Units.Bytes(manifest.ArchiveBytes)}, sha256 {manifest.Sha256[..16]}…, {Units.Duration(manifest.FinishedAt - manifest.StartedAt)}");
            RestoreCommand.Render(ctx, target.Display, restore);
            if (verification is null)
            {
                return ExitCode.Failed;
            }

            ctx.Out.WriteLine();
            VerifyRenderer.Render(ctx.Out, verification);

            if (keep)
            {
                await KeepAsync(ctx, folder, sourceCluster, targetCluster, source, target, cancellationToken);
            }

            return verification.HasDifferences ? ExitCode.Differences : ExitCode.Success;
        }
        finally
        {
            if (!keep)
            {
                if (sourceCluster is not null)
                {
                    await sourceCluster.DisposeAsync();
                }

                if (targetCluster is not null)
                {
                    await targetCluster.DisposeAsync();
                }

                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>The report's path for --online (a new file in the state folder unless given), null without --online.</summary>
    private static string? ReportPath(string? given, bool online)
    {
        if (!online)
        {
            return given is null ? null : throw new UsageException("--report goes with --online: the offline demo writes no report.");
        }

        var path = Path.GetFullPath(given ?? Path.Combine(StatePaths.Root, "reports", $"demo-online-{DateTime.UtcNow:yyyyMMdd-HHmmss}.html"));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        MigrationReport.CheckPath(path);
        return path;
    }

    /// <summary>--keep: the clusters stay up, and the way to connect to them is printed (passwords in a file only this user reads).</summary>
    private static async Task KeepAsync(CommandContext ctx, string folder, LocalCluster sourceCluster, LocalCluster targetCluster, PgRelocate.Connections.PgConnectionInfo source, PgRelocate.Connections.PgConnectionInfo target, CancellationToken cancellationToken)
    {
        sourceCluster.Keep = true;
        targetCluster.Keep = true;
        // The passwords go to a file only this user can read, as libpq expects them, never to the screen.
        var passFile = Path.Combine(folder, "pgpass");
        await File.WriteAllLinesAsync(passFile, [source.ToPassFileLine(), target.ToPassFileLine()], cancellationToken);
        File.SetUnixFileMode(passFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        ctx.Out.WriteLine();
        ctx.Out.WriteLine($"Kept in {folder}. Connect with the passwords in {passFile}:");
        ctx.Out.WriteLine($"  export PGPASSFILE={passFile}");
        ctx.Out.WriteLine($"  psql 'postgres://{source.User}@127.0.0.1:{source.Port}/{source.Database}'   # source");
        ctx.Out.WriteLine($"  psql 'postgres://{target.User}@127.0.0.1:{target.Port}/{target.Database}'   # target");
        ctx.Out.WriteLine($"Stop the clusters with: pg_ctl -D {sourceCluster.DataDir} stop; pg_ctl -D {targetCluster.DataDir} stop (as the server's account)");
    }
}

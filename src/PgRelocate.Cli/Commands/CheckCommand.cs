using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Preflight;
using PgRelocate.Progress;
using Spectre.Console;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate check</c>: the preflight report; exit code 3 when anything blocks the migration.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var source = SourceOption.Required;
        var target = TargetOption.Optional;
        // check's --online, --replica-identity-full, --roles and --confirm are its own: they choose what is checked
        // or measured and change nothing, where migrate's (and RoleOptions', ConfirmOption's) carry the migration out.
        var online = new Option<bool>("--online") { Description = "Also check the prerequisites of an online migration (migrate --online)." };
        var replicaIdentityFull = new Option<bool>("--replica-identity-full") { Description = "With --online: tables without a primary key will get REPLICA IDENTITY FULL (a warning, not a blocker)." };
        var roles = new Option<bool>("--roles") { Description = "Check that the target allows migrate --roles: creating the roles the database uses, keeping owners and grants." };
        var confirm = new Option<string?>("--confirm") { Description = "The target database's name: lets the estimate time a scratch table (rolled back) on a target that holds data." };
        var jobs = JobsOption.Check;
        var maxDowntime = new Option<string?>("--max-downtime") { Description = "The write downtime the recommended path must stay under (30s, 10m, 2h)." };
        var command = new Command("check", "Check a source (and target) before migrating: versions, extensions, size, roles, activity and more.")
        {
            source,
            target,
            online,
            replicaIdentityFull,
            jobs,
            roles,
            RoleOptions.MapRole,
            RoleOptions.PrivilegedAttributes,
            EstimateOption.None,
            EstimateOption.Seconds,
            WorkDirOption.Option,
            confirm,
            maxDowntime,
        };
        command.SetAction(async (ctx, ct) =>
        {
            var sourceInfo = ctx.Connection(source);
            var targetInfo = ctx.Parse.GetValue(target) is { } t ? ctx.Connection(target!) : null;
            IReadOnlyList<IPreflightCheck> checks = ctx.Parse.GetValue(online)
                ? [.. PreflightRunner.DefaultChecks(online: true), .. Online.OnlineChecks.All(ctx.Parse.GetValue(replicaIdentityFull), Math.Max(1, ctx.Parse.GetValue(jobs)))]
                : [.. PreflightRunner.DefaultChecks(), Online.OnlineChecks.LeftoverSlots];
            var (withRoles, renames, privileged) = RoleOptions.Get(ctx.Parse, roles);
            var budget = ctx.Parse.GetValue(maxDowntime) is { } text ? MigrateCommand.ParseDuration(text, "--max-downtime") : (TimeSpan?)null;
            // Corrected by the last migration between these two servers recorded in the work folder, when there is one.
            var estimate = EstimateOption.Budget(ctx.Parse) is not { } seconds ? null : new EstimateOptions
            {
                Budget = seconds,
                Confirm = ctx.Parse.GetValue(confirm),
                MaxDowntime = budget,
                Past = targetInfo is null ? null : Migration.EstimateHistory.Latest(WorkDirOption.Get(ctx.Parse), sourceInfo, targetInfo),
            };
            var report = await new PreflightRunner(checks) { Roles = withRoles, RoleRenames = renames, PrivilegedAttributes = privileged, EstimateWith = estimate }.RunAsync(sourceInfo, targetInfo, ctx.Binaries, ctx.Reporter, ct);
            ctx.Reporter.Stop();
            if (ctx.Json)
            {
                ctx.WriteJson(new CheckJson(
                    sourceInfo.Display,
                    targetInfo?.Display,
                    report.Blocked,
                    new CheckCountsJson(report.Count(CheckStatus.Ok), report.Count(CheckStatus.Warn), report.Count(CheckStatus.Block)),
                    [.. report.Results.Select(r => new CheckItemJson(r.Check, r.Status, r.Found, r.Next, r.Details))],
                    report.Estimate is { } e ? EstimateJson.Of(e) : null), c => c.CheckJson);
            }
            else if (Console.IsOutputRedirected)
            {
                WritePlain(report);
            }
            else
            {
                WriteTable(ctx.Out, report);
            }

            return report.Blocked ? ExitCode.Differences : ExitCode.Success;
        });
        return command;
    }

    private static string Label(CheckStatus status) => status switch
    {
        CheckStatus.Ok => "ok",
        CheckStatus.Warn => "warn",
        _ => "BLOCK",
    };

    private static void WritePlain(PreflightReport report)
    {
        foreach (var r in report.Results)
        {
            Console.Out.WriteLine($"{Label(r.Status),-5} {r.Check}: {r.Found}");
            if (r.Status != CheckStatus.Ok)
            {
                Console.Out.WriteLine($"      next: {r.Next}");
            }

            foreach (var d in r.Details)
            {
                Console.Out.WriteLine($"      - {d}");
            }
        }

        Console.Out.WriteLine(Summary(report));
        if (report.Estimate is { } e)
        {
            foreach (var (path, time, downtime) in EstimateRows(e))
            {
                Console.Out.WriteLine($"{path,-16} {time,-10} downtime {downtime}");
            }

            Console.Out.WriteLine($"recommended: {e.RecommendedPath}: {e.Why}");
            foreach (var b in e.Basis)
            {
                Console.Out.WriteLine($"      - {b}");
            }
        }
    }

    /// <summary>Each path's predicted time and write downtime, as the estimate table lists them.</summary>
    private static IEnumerable<(string Path, string Time, string Downtime)> EstimateRows(Estimate e)
    {
        yield return ("direct copy", Time(e.CopySeconds), Time(e.OfflineDowntimeSeconds));
        yield return ("dump + restore", Time(e.DumpRestoreSeconds), Time(e.DumpRestoreSeconds));
        yield return ("staged", Time(e.StagedSeconds) + "+", Time(e.StagedSeconds) + "+");
        var wal = e.SourceWalBytesPerSecond is { } w ? $"WAL {Units.Rate(w)}, slot {Units.Bytes((long)(e.SlotWalBytesAtCatchUp ?? 0))}" : "WAL rate unknown";
        var catchUp = e.CatchUpSeconds is { } c ? $"copy {Time(e.CopySeconds)} + catch-up {Time(c)}" : "no catch-up predicted";
        yield return ("online", catchUp + $" ({wal})", e.OnlineDowntimeSeconds is { } o ? Time(o) : "unknown");
    }

    private static string Time(double seconds) => Units.Duration(TimeSpan.FromSeconds(seconds));

    private static void WriteTable(IAnsiConsole console, PreflightReport report)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("status", "check", "found", "next step");
        foreach (var r in report.Results)
        {
            var color = r.Status switch { CheckStatus.Ok => "green", CheckStatus.Warn => "yellow", _ => "red" };
            var found = Markup.Escape(r.Found) + string.Concat(r.Details.Take(10).Select(d => "\n[grey]- " + Markup.Escape(d) + "[/]"));
            table.AddRow($"[{color}]{Label(r.Status)}[/]", Markup.Escape(r.Check), found, r.Status == CheckStatus.Ok ? "" : Markup.Escape(r.Next));
        }

        console.Write(table);
        console.WriteLine(Summary(report));
        if (report.Estimate is { } e)
        {
            var estimate = new Table().Border(TableBorder.Rounded).AddColumns("path", "time", "write downtime");
            foreach (var (path, time, downtime) in EstimateRows(e))
            {
                estimate.AddRow(Markup.Escape(path), Markup.Escape(time), Markup.Escape(downtime));
            }

            console.Write(estimate);
            console.MarkupLine($"recommended: [bold]{Markup.Escape(e.RecommendedPath)}[/]: {Markup.Escape(e.Why)}");
            foreach (var b in e.Basis)
            {
                console.MarkupLine("[grey]- " + Markup.Escape(b) + "[/]");
            }
        }
    }

    private static string Summary(PreflightReport report) =>
        $"{report.Count(CheckStatus.Ok)} ok, {report.Count(CheckStatus.Warn)} warnings, {report.Count(CheckStatus.Block)} blocking." +
        (report.Blocked ? " Fix the blocking rows before migrating." : "");
}

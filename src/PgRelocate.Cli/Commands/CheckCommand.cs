using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Preflight;
using Spectre.Console;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate check</c>: the preflight report; exit code 3 when anything blocks the migration.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var source = SourceOption.Required;
        var target = new Option<string?>("--target") { Description = "The database to migrate to; without it only the source is checked." };
        var online = new Option<bool>("--online") { Description = "Also check the prerequisites of an online migration (migrate --online)." };
        var replicaIdentityFull = new Option<bool>("--replica-identity-full") { Description = "With --online: tables without a primary key will get REPLICA IDENTITY FULL (a warning, not a blocker)." };
        var roles = new Option<bool>("--roles") { Description = "Check that the target allows migrate --roles: creating the roles the database uses, keeping owners and grants." };
        var command = new Command("check", "Check a source (and target) before migrating: versions, extensions, size, roles, activity and more.")
        {
            source,
            target,
            online,
            replicaIdentityFull,
            roles,
            RoleOptions.MapRole,
            RoleOptions.PrivilegedAttributes,
        };
        command.SetAction(async (ctx, ct) =>
        {
            var sourceInfo = ctx.Connection(source);
            var targetInfo = ctx.Parse.GetValue(target) is { } t ? ctx.Connection(target!) : null;
            IReadOnlyList<IPreflightCheck> checks = ctx.Parse.GetValue(online)
                ? [.. PreflightRunner.DefaultChecks(online: true), .. Online.OnlineChecks.All(ctx.Parse.GetValue(replicaIdentityFull))]
                : [.. PreflightRunner.DefaultChecks(), Online.OnlineChecks.LeftoverSlots];
            var (withRoles, renames, privileged) = RoleOptions.Get(ctx.Parse, roles);
            var report = await new PreflightRunner(checks) { Roles = withRoles, RoleRenames = renames, PrivilegedAttributes = privileged }.RunAsync(sourceInfo, targetInfo, ctx.Binaries, ctx.Reporter, ct);
            ctx.Reporter.Stop();
            if (ctx.Json)
            {
                ctx.WriteJson(new CheckJson(
                    sourceInfo.Display,
                    targetInfo?.Display,
                    report.Blocked,
                    new CheckCountsJson(report.Count(CheckStatus.Ok), report.Count(CheckStatus.Warn), report.Count(CheckStatus.Block)),
                    [.. report.Results.Select(r => new CheckItemJson(r.Check, r.Status, r.Found, r.Next, r.Details))]), c => c.CheckJson);
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
    }

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
    }

    private static string Summary(PreflightReport report) =>
        $"{report.Count(CheckStatus.Ok)} ok, {report.Count(CheckStatus.Warn)} warnings, {report.Count(CheckStatus.Block)} blocking." +
        (report.Blocked ? " Fix the blocking rows before migrating." : "");
}

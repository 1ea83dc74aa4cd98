using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Settings;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate settings capture|diff|apply</c>: the server settings the application may depend on.</summary>
internal static class SettingsCommand
{
    public static Command Create() =>
        new("settings", "Capture, compare and apply server settings (pg_settings) between the source and the target.")
        {
            Capture(),
            Diff(),
            Apply(),
        };

    private static Command Capture()
    {
        var db = new Option<string>("--db") { Description = "The database whose settings to capture.", Required = true };
        var output = new Option<string?>("--output", "-o") { Description = "The CSV file to write (default: stdout)." };
        var command = new Command("capture", "Write pg_settings as CSV, the same file as psql's \\copy (select * from pg_settings) to FILE csv header.") { db, output };
        command.SetAction(async (ctx, ct) =>
        {
            var info = ctx.Connection(db);
            if (ctx.Parse.GetValue(output) is { } to)
            {
                Tools.OutputPaths.EnsureWritable(to, "-o");
            }

            var csv = await SettingsSnapshot.CaptureAsync(info, ct);
            if (ctx.Parse.GetValue(output) is { } path)
            {
                await SettingsSnapshot.WriteCsvAsync(csv, path, ct);
                ctx.Reporter.Log(Progress.LogLevel.Info, $"Wrote the settings of {info.Display} to {path}.");
            }
            else
            {
                await Console.Out.WriteAsync(csv);
            }

            return ExitCode.Success;
        });
        return command;
    }

    private static Command Diff()
    {
        var source = new Option<string>("--source") { Description = "The source: a URL or a CSV written by 'settings capture' or psql.", Required = true };
        var target = new Option<string>("--target") { Description = "The target: a URL or a CSV.", Required = true };
        var sql = new Option<bool>("--sql") { Description = "Print ALTER DATABASE statements giving the target the source's behavioural settings." };
        var command = new Command("diff", "Show the settings that differ, behaviour first; infrastructure differences are expected.") { source, target, sql };
        command.SetAction(async (ctx, ct) =>
        {
            var diff = SettingsDiff.Compare(await LoadAsync(ctx, source, "source", ct), await LoadAsync(ctx, target, "target", ct));
            if (ctx.Parse.GetValue(sql))
            {
                var database = diff.TargetSnapshot.Database
                    ?? throw new UsageException("--sql needs the target as a URL: a CSV does not say which database to alter.");
                foreach (var line in diff.Statements(database))
                {
                    Console.Out.WriteLine(line);
                }
            }
            else if (ctx.Json)
            {
                ctx.WriteJson(new SettingsJson(diff.SourceSnapshot.Label, diff.TargetSnapshot.Label, [.. diff.Behaviour], [.. diff.Infrastructure]), c => c.SettingsJson);
            }
            else
            {
                WriteText(diff);
            }

            return ExitCode.Success;
        });
        return command;
    }

    private static Command Apply()
    {
        var target = new Option<string>("--target") { Description = "The target database to change (as its owner).", Required = true };
        var from = new Option<string>("--from") { Description = "The source's settings: a CSV written by 'settings capture' or psql (or a URL).", Required = true };
        var confirm = new Option<string>("--confirm") { Description = "The target database's name, to confirm the change.", Required = true };
        var command = new Command("apply", "Set the source's behavioural settings on the target database (ALTER DATABASE ... SET).") { target, from, confirm };
        command.SetAction(async (ctx, ct) =>
        {
            var info = ctx.Connection(target);
            var snapshot = await LoadAsync(ctx, from, "source", ct);
            var applied = await SettingsApplier.ApplyAsync(info, snapshot, ctx.Parse.GetValue(confirm) ?? "", ct);
            if (ctx.Json)
            {
                ctx.WriteJson(new SettingsAppliedJson(info.Display, applied), c => c.SettingsAppliedJson);
            }
            else
            {
                foreach (var line in applied)
                {
                    Console.Out.WriteLine(line);
                }

                Console.Out.WriteLine(applied.Count == 0
                    ? "Nothing to change: the target already behaves like the source."
                    : $"Applied {applied.Count} settings; new sessions of {info.Database} use them.");
            }

            return ExitCode.Success;
        });
        return command;
    }

    private static async Task<SettingsSnapshot> LoadAsync(CommandContext ctx, Option<string> option, string role, CancellationToken ct)
    {
        var spec = ctx.Parse.GetValue(option) ?? "";
        try
        {
            return await SettingsSnapshot.LoadAsync(spec, role, ct);
        }
        catch (UsageException e)
        {
            throw new UsageException($"{option.Name}: {e.Message}", e);
        }
    }

    private static void WriteText(SettingsDiff diff)
    {
        var behaviour = diff.Behaviour.ToList();
        var infrastructure = diff.Infrastructure.ToList();
        Console.Out.WriteLine($"Behaviour: {behaviour.Count} differences (applications notice these)");
        foreach (var d in behaviour)
        {
            Console.Out.WriteLine($"  {d.Name}: source {Show(d.Source)}, target {Show(d.Target)}{(d.OwnerMaySet ? "" : " (only a superuser may set it)")}");
        }

        Console.Out.WriteLine($"Infrastructure: {infrastructure.Count} differences (sized and placed by the provider, expected to differ)");
        foreach (var d in infrastructure)
        {
            Console.Out.WriteLine($"  {d.Name}: source {Show(d.Source)}, target {Show(d.Target)}");
        }

        if (behaviour.Any(d => d.OwnerMaySet))
        {
            Console.Out.WriteLine("Run 'pgrelocate settings diff ... --sql' for the statements, or 'settings apply' to set them.");
        }
    }

    private static string Show(string value) => value.Length == 0 ? "''" : value;
}

using System.CommandLine;
using System.Globalization;
using PgRelocate.Copy;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Targets;
using Spectre.Console;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate copy --source URL --target URL [--confirm DB] [--roles [--map-role S=T]]</c>: a direct, snapshot-consistent parallel copy.</summary>
internal static class CopyCommand
{
    private static readonly Option<string> Source = SourceOption.Required;
    private static readonly Option<string> Target = TargetOption.Required;
    private static readonly Option<string?> Confirm = ConfirmOption.Option;
    private static readonly Option<int> Jobs = JobsOption.Copy;
    private static readonly Option<int> IndexJobs = new("--index-jobs") { Description = "Parallel index and constraint builds on the target.", DefaultValueFactory = _ => 2 };
    private static readonly Option<int?> SplitMb = new("--split-tables-larger-than") { Description = "Copy tables whose heap exceeds this many MB as page ranges in parallel (0: never split). Default: 256, or 0 when both servers run on this machine and it has no more than two cores per --jobs." };

    public static Command Create()
    {
        var command = new Command("copy", "Copy a database straight from a source server to a target server: parallel binary COPY on one snapshot, indexes built as tables land.")
        {
            Source, Target, Confirm, Jobs, IndexJobs, SplitMb, LogOption.Option, LockTimeoutOption.Option,
        };
        RoleOptions.AddTo(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var split = ctx.Parse.GetValue(SplitMb);
        if (split < 0)
        {
            throw new UsageException("--split-tables-larger-than must be 0 or more (MB).");
        }

        var (roles, renames, privileged) = RoleOptions.Get(ctx.Parse);
        var options = new CopyOptions
        {
            Roles = roles,
            RoleRenames = renames,
            PrivilegedAttributes = privileged,
            Source = ctx.Connection(Source),
            Into = new TargetOptions
            {
                Connection = ctx.Connection(Target),
                Confirm = ctx.Parse.GetValue(Confirm),
                LockTimeout = LockTimeoutOption.Get(ctx.Parse),
                Jobs = ctx.Parse.GetValue(Jobs),
            },
            IndexJobs = ctx.Parse.GetValue(IndexJobs),
            SplitTablesLargerThan = split * 1024L * 1024L,
            LogPath = LogOption.Get(ctx.Parse, "copy"),
        };
        // One run at a time per target, as a migration: held until the copy ends.
        var (held, into) = await HeldMigrationLock.AcquireForAsync("copy", options.Into, cancellationToken);
        await using var holding = held;
        options = options with { Into = into };
        // The slots' warning is looked up beside the copy's start, not before it: it never fails the copy.
        var slots = Online.OrphanedSlots.WarnAsync(options.Source, ctx.Reporter, null, cancellationToken);
        ctx.Watch(options.Into);
        CopyResult result;
        try
        {
            result = await new CopyRunner(ctx.Binaries, ctx.Reporter).RunAsync(options, cancellationToken);
        }
        finally
        {
            await slots;
        }

        ctx.Reporter.Stop();
        Render(ctx, options, result);
        return ExitCode.Success;
    }

    private static void Render(CommandContext ctx, CopyOptions options, CopyResult result)
    {
        if (ctx.Json)
        {
            ctx.WriteJson(new CopyJson(
                result.Warnings.Count == 0 ? "Completed" : $"Completed with {result.Warnings.Count} warnings",
                options.Source.Display,
                options.Target.Display,
                Math.Round(result.Duration.TotalSeconds, 2),
                result.Tables,
                result.Rows,
                result.Bytes,
                result.Sequences,
                result.LargeObjects,
                result.Warnings,
                RoleJson.Of(result.Roles),
                result.Access is { } a ? new OwnersAndGrantsJson(a.Owners, a.Grants, a.Defaults) : null,
                [.. result.Steps.Select(s => new CopyStepJson(s.Step, s.Object, Math.Round(s.Start.TotalSeconds, 2), Math.Round(s.Duration.TotalSeconds, 2), s.Rows, s.Bytes))],
                result.LogPath), c => c.CopyJson);
            return;
        }

        var table = new Table().Border(TableBorder.Simple).AddColumns("step", "object", "start", "time", "rows", "size", "rate");
        var (steps, leftOut) = result.ForPeople();
        foreach (var s in steps)
        {
            var rate = s.Bytes is { } b && s.Duration.TotalSeconds > 0.05 ? Units.Rate(b / s.Duration.TotalSeconds) : "";
            table.AddRow(
                Markup.Escape(s.Step),
                Markup.Escape(s.Object),
                Seconds(s.Start),
                Units.Duration(s.Duration),
                s.Rows?.ToString("N0", CultureInfo.InvariantCulture) ?? "",
                s.Bytes is { } bytes ? Units.Bytes(bytes) : "",
                rate);
        }

        ctx.Out.Write(table);
        if (leftOut > 0)
        {
            ctx.Out.WriteLine($"  and {leftOut:N0} shorter steps of single tables: every step is in the log and in --json.");
        }

        var status = result.Warnings.Count == 0 ? "Completed" : $"Completed with {Sentences.Counted(result.Warnings.Count, "warning")}";
        ctx.Out.WriteLine(
            $"Copy into {options.Target.Display}: {status} in {Units.Duration(result.Duration)}: {result.Tables} tables, {result.Rows.ToString("N0", CultureInfo.InvariantCulture)} rows, {Units.Bytes(result.Bytes)}, {result.Sequences} sequences, {result.LargeObjects} large objects.");
        if (result.Access is { } access)
        {
            ctx.Out.WriteLine($"  roles (--roles): {Catalog.RoleOutcome.Summary(result.Roles)}; {access}.");
        }

        foreach (var w in result.Warnings)
        {
            ctx.Out.WriteLine($"  warning: {w}");
        }

        ctx.Out.WriteLine($"  log: {result.LogPath}");
    }

    private static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"+{t.TotalSeconds:0.0}s");
}

using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Reports;
using PgRelocate.Progress;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate info ID</c>: one migration in full, as <c>heroku pg:backups:info</c> shows a transfer.</summary>
internal static class InfoCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The migration's id (see 'pgrelocate list')." };

    public static Command Create()
    {
        var command = new Command("info", "Show a migration: source and target, status, sizes, every step's duration, the log.") { Id, WorkDirOption.Option };
        command.SetAction((ctx, ct) =>
        {
            var journal = MigrationJournal.Load(WorkDirOption.Get(ctx.Parse), ctx.Parse.GetValue(Id)!);
            if (ctx.Json)
            {
                Console.Out.WriteLine(MigrationReport.Json(journal));
                return Task.FromResult(ExitCode.Success);
            }

            foreach (var (label, value) in MigrationReport.Facts(journal))
            {
                ctx.Out.WriteLine($"{label + ":",-15}{value}");
            }

            ctx.Out.WriteLine();
            RenderSteps(ctx, journal);
            RenderFailedTables(ctx, journal);
            ctx.Out.WriteLine();
            ctx.Out.WriteLine("Log:");
            foreach (var line in journal.Log)
            {
                ctx.Out.WriteLine("  " + line);
            }

            if (ctx.Verbose && journal.ErrorDetail is { } detail)
            {
                ctx.Out.WriteLine();
                ctx.Out.WriteLine("Error details:");
                Console.Out.WriteLine(detail);
            }

            return Task.FromResult(ExitCode.Success);
        });
        return command;
    }

    /// <summary>What a failed step found (the differing tables, the blocking checks): the tables its error points to.</summary>
    private static void RenderFailedTables(CommandContext ctx, MigrationJournal journal)
    {
        foreach (var table in journal.Steps.Where(s => s.Status == StepStatus.Failed).SelectMany(s => s.Tables))
        {
            ctx.Out.WriteLine();
            ctx.Out.WriteLine($"{table.Title} ({string.Join(", ", table.Columns)}):{(table.Rows.Count == 0 ? " " + table.Note : "")}");
            foreach (var row in table.Rows)
            {
                ctx.Out.WriteLine("  - " + string.Join(", ", row));
            }
        }
    }

    /// <summary>The steps as a table: name, status, duration, summary or error.</summary>
    public static void RenderSteps(CommandContext ctx, MigrationJournal journal)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("step", "status", "duration", "summary");
        foreach (var s in journal.Steps)
        {
            var duration = s.StartedAt is { } a ? Units.Duration((s.FinishedAt ?? DateTimeOffset.UtcNow) - a) : "";
            table.AddRow(Markup.Escape(s.Name), Markup.Escape(s.Status.ToString()), duration, Markup.Escape(s.Error ?? s.Summary ?? ""));
        }

        ctx.Out.Write(table);
    }
}

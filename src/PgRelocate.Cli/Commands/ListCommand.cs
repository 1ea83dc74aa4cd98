using System.CommandLine;
using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Migration;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate list</c>: recent migrations and their status.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List recent migrations and their status.") { WorkDirOption.Option };
        command.SetAction((ctx, ct) =>
        {
            var all = MigrationJournal.All(WorkDirOption.Get(ctx.Parse));
            if (ctx.Json)
            {
                ctx.WriteJson(all.Select(j => new { id = j.Id, status = j.Status.ToString(), createdAt = j.CreatedAt, finishedAt = j.FinishedAt, source = j.Source, target = j.Target, step = CurrentStep(j) }));
                return Task.FromResult(ExitCode.Success);
            }

            if (all.Count == 0)
            {
                ctx.Out.WriteLine("No migrations yet.");
                return Task.FromResult(ExitCode.Success);
            }

            var table = new Table().Border(TableBorder.Simple).AddColumns("id", "status", "started", "step", "source → target");
            foreach (var j in all)
            {
                table.AddRow(j.Id, StatusOf(j), j.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), Markup.Escape(CurrentStep(j)), Markup.Escape($"{j.Source} → {j.Target}"));
            }

            ctx.Out.Write(table);
            return Task.FromResult(ExitCode.Success);
        });
        return command;
    }

    /// <summary>"Running", or "Running (process gone)" when the journal says running but nobody is.</summary>
    public static string StatusOf(MigrationJournal j) =>
        j.Status == MigrationStatus.Running && !j.IsRunningElsewhere() && j.Pid != Environment.ProcessId ? "Interrupted" : j.Status.ToString();

    private static string CurrentStep(MigrationJournal j) =>
        j.Steps.FirstOrDefault(s => s.Status is StepStatus.Running or StepStatus.Failed)?.Name
        ?? (j.Status == MigrationStatus.Completed ? "" : j.Steps.FirstOrDefault(s => s.Status == StepStatus.Pending)?.Name ?? "");
}

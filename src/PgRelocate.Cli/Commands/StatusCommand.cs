using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Migration;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate status [ID]</c>: follows a migration's progress until it ends. Ctrl-C stops watching, never
/// the migration. Exits with the migration's own exit code once it has ended.
/// </summary>
internal static class StatusCommand
{
    private static readonly Argument<string?> Id = new("id") { Description = "The migration's id (default: the most recent).", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<bool> Once = new("--once") { Description = "Print the current state once instead of following it." };

    public static Command Create()
    {
        var command = new Command("status", "Follow a migration's progress (Ctrl-C stops watching, not the migration).") { Id, Once, WorkDirOption.Option };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var workDir = WorkDirOption.Get(ctx.Parse);
        var id = ctx.Parse.GetValue(Id) ?? MigrationJournal.All(workDir).FirstOrDefault()?.Id
            ?? throw new UsageException($"No migrations in {workDir}.");
        string? last = null;
        var startedWatching = DateTime.UtcNow;
        while (true)
        {
            var journal = MigrationJournal.Load(workDir, id);
            // A migration just started with --detach is pending until its process picks it up.
            var starting = journal.Status == MigrationStatus.Pending && DateTime.UtcNow - startedWatching < TimeSpan.FromSeconds(30);
            var running = starting || (journal.Status == MigrationStatus.Running && journal.IsRunningElsewhere());
            var line = Describe(journal, running);
            if (line != last)
            {
                if (ctx.Json)
                {
                    ctx.WriteJson(new { id, status = ListCommand.StatusOf(journal), progress = JournalReporter.Read(journal), online = Online.OnlineStatus.Read(journal.Folder), steps = journal.Steps.Select(s => new { s.Name, status = s.Status.ToString(), s.Summary, s.Error }) });
                }
                else
                {
                    ctx.Out.WriteLine(line);
                }

                last = line;
            }

            if (!running || ctx.Parse.GetValue(Once))
            {
                return running ? ExitCode.Success : (ExitCode)(journal.ExitCode ?? (int)ExitCode.Failed);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static string Describe(MigrationJournal journal, bool running)
    {
        var step = journal.Steps.FirstOrDefault(s => s.Status == StepStatus.Running);
        if (!running || step is null)
        {
            return $"{journal.Id}: {ListCommand.StatusOf(journal)}{(journal.Error is null ? "" : " - " + journal.Error)}";
        }

        if (step.Name is Online.Steps.FollowStep.StepName or Online.Steps.OnlineCutoverStep.StepName && Online.OnlineStatus.Read(journal.Folder) is { } online)
        {
            return $"{journal.Id}: {online.Describe()}";
        }

        var progress = JournalReporter.Read(journal).LastOrDefault(p => !p.Finished);
        var detail = progress is null
            ? ""
            : $" - {progress.Task}: {progress.Done}{(progress.Total is { } t ? "/" + t : "")} {progress.Unit}{(progress.Bytes is { } b ? ", " + Progress.Units.Bytes(b) : "")}{(progress.Detail is null ? "" : " (" + progress.Detail + ")")}";
        var done = journal.Steps.Count(s => s.Status is StepStatus.Done or StepStatus.Skipped);
        return $"{journal.Id}: running step {done + 1}/{journal.Steps.Count}, {step.Name}{detail}";
    }
}

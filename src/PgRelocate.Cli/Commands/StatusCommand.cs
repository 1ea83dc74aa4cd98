using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Migration;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate status [ID]</c>: follows a migration's progress until it ends. Ctrl-C stops watching, never
/// the migration. Exits with the migration's own exit code once it has ended. With <c>--json</c> it prints one
/// object and exits, as every command's <c>--json</c> does; <c>--watch --json</c> follows, an object per line.
/// </summary>
internal static class StatusCommand
{
    private static readonly Argument<string?> Id = new("id") { Description = "The migration's id (default: the most recent).", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<bool> Once = new("--once") { Description = "Print the current state once instead of following it (the default with --json)." };
    private static readonly Option<string?> Source = SourceOption.OrVariable;
    private static readonly Option<bool> Watch = new("--watch") { Description = "Follow until the migration ends, also with --json (then one JSON object per line, JSON Lines)." };

    public static Command Create()
    {
        var command = new Command("status", "Follow a migration's progress (Ctrl-C stops watching, not the migration); with --json, print it once.") { Id, Once, Watch, Source, WorkDirOption.Option };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var workDir = WorkDirOption.Get(ctx.Parse);
        var id = ctx.Parse.GetValue(Id) ?? MigrationJournal.All(workDir).FirstOrDefault()?.Id
            ?? throw new UsageException($"No migrations in {workDir}.");
        var once = ctx.Parse.GetValue(Once) || (ctx.Json && !ctx.Parse.GetValue(Watch));
        if (ctx.Parse.GetValue(Once) && ctx.Parse.GetValue(Watch))
        {
            throw new UsageException("--once and --watch contradict each other: give one of them.");
        }

        string? last = null;
        var startedWatching = DateTime.UtcNow;
        while (true)
        {
            // Settled: a process that ended right after this read has saved how it ended (not "Interrupted").
            var journal = MigrationJournal.Load(workDir, id).Settled();
            // A migration just started with --detach is pending until its process picks it up.
            var starting = journal.Status == MigrationStatus.Pending && DateTime.UtcNow - startedWatching < TimeSpan.FromSeconds(30);
            var running = starting || (journal.Status == MigrationStatus.Running && journal.IsRunningElsewhere());
            // A migration whose process is gone may have left its slot on the source, holding WAL.
            // The source as list reads it: --source, else PGRELOCATE_SOURCE when it is a connection, else the journal's with libpq's password.
            var given = ctx.Parse.GetValue(Source) is null ? ListCommand.GivenSource() : ctx.Connection(Source, MigrateCommand.SourceVariable);
            var orphan = running ? null : await Online.OrphanedSlots.OfAsync(journal, given, cancellationToken);
            // What to do next, once it has ended: the resume that works pasted as printed, or to run it again.
            var next = running ? null : NextStep.For(journal);
            var line = Describe(journal, running) + (orphan is null ? "" : "; " + orphan.Describe()) + (next is null ? "" : Environment.NewLine + next);
            if (line != last)
            {
                if (ctx.Json)
                {
                    var state = new StatusJson(
                        id, ListCommand.StatusOf(journal), JournalReporter.Read(journal), Online.OnlineStatus.Read(journal.Folder),
                        [.. journal.Steps.Select(s => new StatusStepJson(s.Name, s.Status.ToString(), s.Summary, s.Error))], OrphanedSlotJson.Of(orphan), Databases(journal))
                    {
                        Error = running ? null : journal.Error,
                        Next = next,
                    };
                    if (once)
                    {
                        ctx.WriteJson(state, c => c.StatusJson);
                    }
                    else
                    {
                        ctx.WriteJsonLine(state, c => c.StatusJson);
                    }
                }
                else
                {
                    ctx.Out.WriteLine(line);
                }

                last = line;
            }

            if (!running || once)
            {
                return running ? ExitCode.Success : (ExitCode)(journal.ExitCode ?? (int)ExitCode.Failed);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    /// <summary>An instance migration's databases and their migrations, as JSON; null for a migration of one database.</summary>
    private static List<StatusDatabaseJson>? Databases(MigrationJournal journal) =>
        InstanceJournal.IsParent(journal)
            ? [.. InstanceJournal.Children(journal).Select(c => new StatusDatabaseJson(c.Database, c.Child.Id, ListCommand.StatusOf(c.Child), JournalReporter.Read(c.Child)))]
            : null;

    private static string Describe(MigrationJournal journal, bool running)
    {
        // An instance migration: its state, and the running database's migration as its own status says it.
        if (InstanceJournal.IsParent(journal))
        {
            var children = InstanceJournal.Children(journal);
            var moved = children.Count(c => c.Child.Status == MigrationStatus.Completed);
            // Online, several databases run at once: one following while the next copies, all of them in the switch.
            var now = running ? children.Where(c => c.Child.Status == MigrationStatus.Running).ToList() : [];
            var parent = $"{journal.Id}: {ListCommand.StatusOf(journal)}, {moved}/{children.Count} databases moved{(journal.Error is null ? "" : " - " + journal.Error)}";
            return string.Join("; ", [parent, .. now.Select(c => $"database {c.Database}: {Describe(c.Child, running)}")]);
        }

        var step = journal.Steps.FirstOrDefault(s => s.Status == StepStatus.Running);
        if (!running || step is null)
        {
            return $"{journal.Id}: {ListCommand.StatusOf(journal)}{(journal.Error is null ? "" : " - " + journal.Error)}";
        }

        if (step.Name is Online.Steps.FollowStep.StepName or Online.Steps.OnlineCutoverStep.StepName or Online.Steps.FallbackStep.StepName && Online.OnlineStatus.Read(journal.Folder) is { } online)
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

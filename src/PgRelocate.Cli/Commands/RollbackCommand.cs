using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Online.Fallback;
using PgRelocate.Online.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate rollback ID</c>: switches an online migration made with --fallback back to its old source, from
/// any terminal: asks the process keeping the old source in step (a request file) and waits until it has, then
/// prints the old DATABASE_URL. <see cref="FinishCommand"/> asks the same process to end the way back instead.
/// </summary>
internal static class RollbackCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The online migration's id (started with --fallback, switched)." };
    private static readonly Option<int> Wait = WaitOption.Option;

    public static Command Create()
    {
        var command = new Command("rollback", "Switch a migration made with --online --fallback back to its old source: the target becomes read-only (behind --pgbouncer, PgBouncer's entry is paused first), its last changes are applied to the old source, which is verified and takes writes again (behind PgBouncer, its entry points there again and is resumed). Waits (up to --wait seconds) and prints the old DATABASE_URL.") { Id, Wait, WorkDirOption.Option };
        command.SetAction((ctx, ct) => RunAsync(ctx, ctx.Parse.GetValue(Id)!, ctx.Parse.GetValue(Wait), FallbackEnd.Rollback, ct));
        return command;
    }

    /// <summary>Asks the way back of migration <paramref name="id"/> to end as <paramref name="end"/> says, waits, and says how it ended.</summary>
    internal static async Task<ExitCode> RunAsync(CommandContext ctx, string id, int wait, FallbackEnd end, CancellationToken cancellationToken)
    {
        var workDir = WorkDirOption.Get(ctx.Parse);
        var journal = MigrationJournal.Load(workDir, id);
        FallbackRequest.CheckEndable(journal, end);
        FallbackRequest.Write(journal.Folder, end);
        if (!journal.IsRunningElsewhere())
        {
            throw new PgRelocateException($"The request is kept, but no process runs migration {id}: resume it with '{NextStep.ResumeCommand(journal)}', which does it first.");
        }

        ctx.Reporter.Info($"{(end == FallbackEnd.Rollback ? "Rollback" : "Finish")} of migration {id} requested; waiting for it.");
        journal = await FallbackRequest.AwaitEndAsync(journal, TimeSpan.FromSeconds(Math.Max(1, wait)), cancellationToken);

        if (journal.Status == MigrationStatus.Running && !journal.IsRunningElsewhere())
        {
            throw new PgRelocateException($"The process of migration {id} stopped before it was done; the request is kept: resume it with '{NextStep.ResumeCommand(journal)}', which does it first.");
        }

        var rolledBack = FallbackStep.EndedAs(journal) == FallbackEnd.Rollback;
        var url = rolledBack ? journal.Source : journal.Target;
        if (ctx.Json)
        {
            ctx.WriteJson(new WayBackJson(id, journal.Status.ToString(), journal.Output(FallbackStep.StepName, FallbackStep.Ended) ?? "", url, journal.Error), c => c.WayBackJson);
        }

        if (journal.Status == MigrationStatus.Completed)
        {
            if (!ctx.Json)
            {
                ctx.Out.WriteLine($"Migration {id}: {journal.Step(FallbackStep.StepName).Summary}.");
                ctx.Out.WriteLine($"DATABASE_URL={url}");
                if (FallbackRequest.PgBouncerEntry(journal) is { } entry)
                {
                    ctx.Out.WriteLine(rolledBack
                        ? $"Behind PgBouncer: its entry '{entry}' points at the old source again; the applications that connect through PgBouncer keep their URL (the one above is for those that connect directly)."
                        : $"Behind PgBouncer: its entry '{entry}' stays at the target; the applications that connect through PgBouncer keep their URL.");
                }
            }

            return ExitCode.Success;
        }

        if (journal.Status == MigrationStatus.Running)
        {
            throw new PgRelocateException($"Migration {id} has not done it yet: the request stays; watch it with 'pgrelocate status {id}'.");
        }

        throw new PgRelocateException($"Migration {id} {journal.Status.ToString().ToLowerInvariant()}: {journal.Error}", (ExitCode)(journal.ExitCode ?? (int)ExitCode.Failed));
    }

    /// <summary>After the switch: says that a way back is open, and how to use or end it.</summary>
    internal static void SayWayBack(CommandContext ctx, MigrationJournal journal)
    {
        if (FallbackRequest.Following(journal))
        {
            ctx.Out.WriteLine($"A way back is open: the old source follows the target. 'pgrelocate rollback {journal.Id}' switches back, 'pgrelocate finish {journal.Id}' ends it.");
        }
    }
}

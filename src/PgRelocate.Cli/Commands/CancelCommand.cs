using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate cancel ID</c>: asks the process running a migration to stop (SIGTERM), which stops its child
/// processes, lifts a read-only source and records the migration as canceled; waits until it has. A migration
/// whose process is gone is recorded as canceled and its steps undone here, by the runner (the source given).
/// </summary>
internal static class CancelCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The migration's id." };
    private static readonly Option<string?> Source = new("--source", "-s")
    {
        Description = $"The migration's source (or {MigrateCommand.SourceVariable}): lets cancel lift a read-only source itself when the migration's process is gone.",
    };

    public static Command Create()
    {
        var command = new Command("cancel", "Stop a running migration: child processes stopped, read-only source lifted.") { Id, Source, WorkDirOption.Option };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var workDir = WorkDirOption.Get(ctx.Parse);
        var id = ctx.Parse.GetValue(Id)!;
        var journal = MigrationJournal.Load(workDir, id);
        var source = SourceOf(ctx, journal);
        if (journal.Status == MigrationStatus.Running && journal.IsRunningElsewhere())
        {
            journal = await MigrationRunner.StopRunningAsync(journal, ctx.Reporter, cancellationToken);
            ctx.Out.WriteLine($"Migration {id}: {journal.Status}.");
            return ExitCode.Success;
        }

        ctx.Out.WriteLine(journal.Status == MigrationStatus.Running
            ? $"Migration {id} had stopped running; it is now recorded as canceled."
            : $"Migration {id} is not running ({journal.Status}): nothing to cancel.");

        // What its steps undo ("Source ... is writable again.") is this command's result: printed as it says it.
        var undone = await MigrationRunner.ForJournal(journal, ctx.Binaries, new ResultReporter(ctx)).CancelAbandonedAsync(journal, source, cancellationToken);
        // A follow's large transactions kept on disk by a killed run (no step's undo: the follow's files of its own).
        Online.OnlineCleanup.RemoveKeptTransactions(journal);
        if (!undone && ReadOnlySourceStep.LeftReadOnly(journal))
        {
            ctx.Out.WriteLine($"Its source is still read-only: run 'pgrelocate cancel {id} --source URL', or ALTER DATABASE ... RESET default_transaction_read_only on it.");
        }

        if (!undone && Online.OnlineCleanup.LeftOnSource(journal))
        {
            ctx.Out.WriteLine($"Its replication slot and publication are still on the source: run 'pgrelocate cancel {id} --source URL' to remove them.");
        }

        return ExitCode.Success;
    }

    /// <summary>Prints the undoing's information lines on standard output, as the command's result; the rest as any command does.</summary>
    private sealed class ResultReporter(CommandContext ctx) : IReporter
    {
        public void Log(LogLevel level, string message)
        {
            if (level == LogLevel.Info)
            {
                ctx.Out.WriteLine(message);
            }
            else
            {
                ctx.Reporter.Log(level, message);
            }
        }

        public void Progress(ProgressUpdate update) => ctx.Reporter.Progress(update);
    }

    /// <summary>The source given to lift a read-only source with, checked to be this migration's.</summary>
    private static PgConnectionInfo? SourceOf(CommandContext ctx, MigrationJournal journal)
    {
        var source = ctx.Connection(Source, MigrateCommand.SourceVariable);
        return source is null || string.Equals(source.ToString(), journal.Source, StringComparison.Ordinal)
            ? source
            : throw new UsageException($"--source is not the source of migration {journal.Id} ({journal.Source}).");
    }
}

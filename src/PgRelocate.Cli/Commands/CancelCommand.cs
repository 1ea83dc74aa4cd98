using System.CommandLine;
using System.Diagnostics;
using PgRelocate.Errors;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate cancel ID</c>: asks the process running a migration to stop (SIGTERM), which stops its child
/// processes, lifts a read-only source and records the migration as canceled; waits until it has.
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
        if (journal.Status != MigrationStatus.Running || !journal.IsRunningElsewhere())
        {
            if (journal.Status == MigrationStatus.Running)
            {
                // Its process died (killed, machine restarted): record that, and undo what it left behind.
                journal.Status = MigrationStatus.Canceled;
                journal.Error = "Canceled after its process had stopped.";
                journal.AddLog("Canceled; the process running it had already stopped.");
                ctx.Out.WriteLine($"Migration {id} had stopped running; it is now recorded as canceled.");
            }
            else
            {
                ctx.Out.WriteLine($"Migration {id} is not running ({journal.Status}): nothing to cancel.");
            }

            await MigrationPlan.AbortAbandonedUploadsAsync(journal, ctx.Reporter, cancellationToken);
            Online.OnlineCleanup.RemoveKeptTransactions(journal);
            if (ReadOnlySourceStep.LeftReadOnly(journal))
            {
                if (source is null)
                {
                    ctx.Out.WriteLine($"Its source is still read-only: run 'pgrelocate cancel {id} --source URL', or ALTER DATABASE ... RESET default_transaction_read_only on it.");
                }
                else
                {
                    await ReadOnlySourceStep.LiftAsync(source, cancellationToken);
                    journal.Step(ReadOnlySourceStep.StepName).Outputs["readOnly"] = "lifted";
                    journal.Step(ReadOnlySourceStep.StepName).MarkUndone(ReadOnlySourceStep.LiftedSummary(source.Database));
                    journal.AddLog("Source made writable again by cancel.");
                    ctx.Out.WriteLine($"Source {source.Database} is writable again.");
                }
            }

            if (Online.OnlineCleanup.LeftOnSource(journal))
            {
                if (source is null)
                {
                    ctx.Out.WriteLine($"Its replication slot and publication are still on the source: run 'pgrelocate cancel {id} --source URL' to remove them.");
                }
                else
                {
                    await Online.OnlineCleanup.RemoveAsync(journal, source, cancellationToken);
                    ctx.Out.WriteLine($"Replication slot and publication {Online.OnlineNames.Slot(id)} removed from the source.");
                }
            }

            journal.Save();
            return ExitCode.Success;
        }

        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", journal.Pid!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync(cancellationToken);
        }

        ctx.Reporter.Info($"Asked process {journal.Pid} to stop migration {id}; waiting for it to clean up.");
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(500, cancellationToken);
            journal = MigrationJournal.Load(workDir, id);
            if (journal.Status != MigrationStatus.Running)
            {
                ctx.Out.WriteLine($"Migration {id}: {journal.Status}.");
                return ExitCode.Success;
            }
        }

        throw new PgRelocateException($"Migration {id} did not stop within 3 minutes: check process {journal.Pid}.");
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

using System.CommandLine;
using System.Diagnostics;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate cancel ID</c>: asks the process running a migration to stop (SIGTERM), which stops its child
/// processes, lifts a read-only source and records the migration as canceled; waits until it has.
/// </summary>
internal static class CancelCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The migration's id." };

    public static Command Create()
    {
        var command = new Command("cancel", "Stop a running migration: child processes stopped, read-only source lifted.") { Id, WorkDirOption.Option };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var workDir = WorkDirOption.Get(ctx.Parse);
        var id = ctx.Parse.GetValue(Id)!;
        var journal = MigrationJournal.Load(workDir, id);
        if (journal.Status != MigrationStatus.Running)
        {
            ctx.Out.WriteLine($"Migration {id} is not running ({journal.Status}): nothing to cancel.");
            return ExitCode.Success;
        }

        if (!journal.IsRunningElsewhere())
        {
            // Its process died (killed, machine restarted): record that, and say what may be left behind.
            journal.Status = MigrationStatus.Canceled;
            journal.Error = "Canceled after its process had stopped.";
            journal.AddLog("Canceled; the process running it had already stopped.");
            journal.Save();
            var readOnly = journal.Output("read-only source", "readOnly") == "on";
            ctx.Out.WriteLine($"Migration {id} had stopped running; it is now recorded as canceled.");
            if (readOnly)
            {
                ctx.Out.WriteLine("The source is still read-only: resume the migration, or run ALTER DATABASE ... RESET default_transaction_read_only on it.");
            }

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
}

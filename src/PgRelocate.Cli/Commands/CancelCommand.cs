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
/// whose process is gone is recorded as canceled and its steps undone here, by the runner, on the sides given
/// (--source, --target: the journal keeps no passwords); what is left on a side not given is named.
/// </summary>
internal static class CancelCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The migration's id." };
    private static readonly Option<string?> Source = SourceOption.OrVariable;
    private static readonly Option<string?> Target = TargetOption.OrVariable;

    // cancel's --force (end the slot's reader) and dump's (replace an archive) only share a name.
    private static readonly Option<bool> Force = new("--force")
    {
        Description = "Without the migration's journal: also end the session that still reads its replication slot on the source (a migration running elsewhere would fail).",
    };

    public static Command Create()
    {
        var command = new Command("cancel", "Stop a running migration: child processes stopped, read-only source lifted.") { Id, Source, Target, Force, PgBouncerCliOptions.Admin, WorkDirOption.Option };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var workDir = WorkDirOption.Get(ctx.Parse);
        var id = ctx.Parse.GetValue(Id)!;
        if (!File.Exists(Path.Combine(workDir, id, MigrationJournal.FileName))
            && Online.OrphanedSlots.MigrationId(Online.OnlineNames.Slot(id)) is not null
            && ctx.Connection(Source, MigrateCommand.SourceVariable) is { } named
            && await Online.OrphanedSlots.RemoveAsync(named, id, ctx.Parse.GetValue(Force), cancellationToken) is { } removed)
        {
            // Its journal went with the machine that ran it: what it left on the source is found by its names.
            ctx.Out.WriteLine($"No journal of migration {id} in {workDir}; found on the source by their names. {removed}");
            ctx.Out.WriteLine($"Its target keeps a partial copy and the schema {Online.OnlineNames.TargetSchema} (DROP SCHEMA {Online.OnlineNames.TargetSchema} CASCADE there); tables it gave REPLICA IDENTITY FULL on the source keep it (ALTER TABLE ... REPLICA IDENTITY DEFAULT).");
            return ExitCode.Success;
        }

        var journal = MigrationJournal.Load(workDir, id);
        var source = Given(ctx, Source, MigrateCommand.SourceVariable, "--source", journal.Source, journal.Id);
        var target = Given(ctx, Target, MigrateCommand.TargetVariable, "--target", journal.Target, journal.Id);
        if (journal.Status == MigrationStatus.Running && journal.IsRunningElsewhere() && Online.Fallback.FallbackRequest.Following(journal))
        {
            // After the switch the target is in use: cancelling ends the way back, as finish does.
            return await RollbackCommand.RunAsync(ctx, id, 600, Online.Fallback.FallbackEnd.Finish, cancellationToken);
        }

        if (journal.Status == MigrationStatus.Running && journal.IsRunningElsewhere())
        {
            journal = await MigrationRunner.StopRunningAsync(journal, ctx.Reporter, cancellationToken);
            ctx.Out.WriteLine($"Migration {id}: {journal.Status}.");
            if (Online.OnlineCleanup.PartialCopyLeft(journal) is { } left)
            {
                ctx.Out.WriteLine(left);
            }

            return ExitCode.Success;
        }

        ctx.Out.WriteLine(journal.Status == MigrationStatus.Running
            ? $"Migration {id} had stopped running; it is now recorded as canceled."
            : $"Migration {id} is not running ({journal.Status}): nothing to cancel.");
        if (InstanceJournal.IsParent(journal))
        {
            // Each database's migration that started and did not complete is undone as its own cancel would.
            await Online.OnlinePlan.CancelAbandonedAsync(journal, source, target, null, ctx.Binaries, new ResultReporter(ctx), cancellationToken);
            return ExitCode.Success;
        }

        if (InstanceJournal.ParentOf(journal) is { } parent)
        {
            throw new UsageException($"Migration {id} moves one database of instance migration {parent}: cancel that one with 'pgrelocate cancel {parent}'.");
        }

        // What its steps undo ("Source ... is writable again.") is this command's result: printed as it says it.
        await Online.OnlinePlan.CancelAbandonedAsync(journal, source, target, PgBouncerCliOptions.GivenAdmin(ctx), ctx.Binaries, new ResultReporter(ctx), cancellationToken);
        if (Online.OnlineCleanup.PartialCopyLeft(journal) is { } partial)
        {
            ctx.Out.WriteLine(partial);
        }

        if (source is null && ReadOnlySourceStep.LeftReadOnly(journal))
        {
            ctx.Out.WriteLine($"Its source is still read-only: run 'pgrelocate cancel {id} --source {PastedCommand.Connection(journal.Source)}', or ALTER DATABASE ... RESET default_transaction_read_only on it.");
        }

        if (source is null && Online.OnlineCleanup.LeftOnSource(journal))
        {
            ctx.Out.WriteLine($"Its replication slot and publication are still on the source: run 'pgrelocate cancel {id} --source {PastedCommand.Connection(journal.Source)}' to remove them.");
        }

        if (target is null && (Online.OnlineCleanup.LeftOnTarget(journal) || Online.OnlineCleanup.LeftOnSource(journal) || DirectCopyStep.LeftOnTarget(journal)))
        {
            ctx.Out.WriteLine($"Its schema {Online.OnlineNames.TargetSchema} is still on the target: 'pgrelocate cancel {id} --target {PastedCommand.Connection(journal.Target)}' also removes it.");
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

    /// <summary>A connection given to undo with (the option, else its variable), checked to be the one the journal records.</summary>
    private static PgConnectionInfo? Given(CommandContext ctx, Option<string?> option, string variable, string name, string recorded, string id)
    {
        var given = ctx.Connection(option, variable);
        return given is null || PastedCommand.SameConnection(recorded, given.ToString())
            ? given
            : throw new UsageException($"{name} is not the {name[2..]} of migration {id} ({recorded}).");
    }
}

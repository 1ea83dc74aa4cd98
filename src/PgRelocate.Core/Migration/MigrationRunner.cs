using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Migration;

/// <summary>
/// Runs a migration's steps in order, recording each in the journal before and after it runs. Finished steps
/// of an earlier run are skipped; an interrupted one is run again. On failure or cancel, compensating steps
/// (the read-only source) are undone before the runner returns.
/// </summary>
public sealed class MigrationRunner(IReadOnlyList<IMigrationStep> steps, PgBinaries binaries, IReporter reporter)
{
    public IReadOnlyList<IMigrationStep> Steps => steps;

    /// <summary>Runs (or resumes) the migration and returns the exit code it ends with.</summary>
    /// <exception cref="PgRelocateException">The migration is already running in another process.</exception>
    public async Task<ExitCode> RunAsync(MigrationOptions options, MigrationJournal journal, CancellationToken cancellationToken)
    {
        if (journal.IsRunningElsewhere())
        {
            throw new PgRelocateException($"Migration {journal.Id} is running in process {journal.Pid}: watch it with 'pgrelocate status {journal.Id}' or stop it with 'pgrelocate cancel {journal.Id}'.");
        }

        var journalReporter = new JournalReporter(reporter, journal);
        var context = new MigrationContext { Options = options, Journal = journal, Binaries = binaries, Reporter = journalReporter };
        var resumed = journal.Status != MigrationStatus.Pending;
        journal.Pid = Environment.ProcessId;
        journal.Status = MigrationStatus.Running;
        journal.Error = null;
        journal.ExitCode = null;
        journal.FinishedAt = null;
        journal.AddLog(resumed ? $"Resumed by process {Environment.ProcessId}." : $"Started by process {Environment.ProcessId}.");
        journal.Save();

        var code = ExitCode.Success;
        StepRecord? current = null;
        try
        {
            foreach (var step in steps)
            {
                var record = journal.Step(step.Name);
                context.Record = record;
                current = record;
                if (record.Status is StepStatus.Done or StepStatus.Skipped)
                {
                    journalReporter.Info($"{step.Name}: done in a previous run{(record.Summary is null ? "" : ", " + record.Summary)}.");
                    continue;
                }

                if (step.SkipReason(options) is { } why)
                {
                    record.Status = StepStatus.Skipped;
                    record.Summary = why;
                    journal.Save();
                    continue;
                }

                if (record.Status is StepStatus.Running or StepStatus.Failed)
                {
                    journalReporter.Info($"{step.Name}: interrupted in a previous run; starting it again.");
                }

                journalReporter.CurrentStep = step.Name;
                record.Status = StepStatus.Running;
                record.StartedAt = DateTimeOffset.UtcNow;
                record.FinishedAt = null;
                record.Error = null;
                record.Tables.Clear();
                journal.Save();
                FaultInjection.At(step.Name, "start");

                await step.RunAsync(context, cancellationToken);

                record.Status = StepStatus.Done;
                record.FinishedAt = DateTimeOffset.UtcNow;
                journal.AddLog($"{step.Name}: {record.Summary ?? "done"}");
                journal.Save();
                FaultInjection.At(step.Name, "end");
            }

            current = null;
            journal.Status = MigrationStatus.Completed;
            await UndoAsync(context, success: true);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Fail(current, "canceled");
            journal.Status = MigrationStatus.Canceled;
            journal.Error = "Canceled.";
            code = ExitCode.Interrupted;
            await UndoAsync(context, success: false);
        }
        catch (PgRelocateException e)
        {
            Fail(current, e.Message);
            journal.Status = MigrationStatus.Failed;
            journal.Error = e.Message;
            code = e.ExitCode;
            await UndoAsync(context, success: false);
        }
        catch (Exception e)
        {
            Fail(current, e.Message);
            journal.Status = MigrationStatus.Failed;
            journal.Error = $"Unexpected failure ({e.GetType().Name}): {e.Message}";
            code = ExitCode.Failed;
            await UndoAsync(context, success: false);
        }
        finally
        {
            journal.Pid = null;
            journal.FinishedAt = DateTimeOffset.UtcNow;
            journal.ExitCode = (int)code;
            journal.AddLog($"Finished: {journal.Status}.");
            journal.Save();
        }

        return code;
    }

    private static void Fail(StepRecord? record, string error)
    {
        if (record is null)
        {
            return;
        }

        record.Status = StepStatus.Failed;
        record.FinishedAt = DateTimeOffset.UtcNow;
        record.Error = error;
    }

    private async Task UndoAsync(MigrationContext context, bool success)
    {
        // Undo even though the migration's own token may be cancelled: a read-only source must not stay so.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        foreach (var step in steps.OfType<ICompensatingStep>().Reverse())
        {
            if (success && step.KeepOnSuccess(context.Options))
            {
                continue;
            }

            var record = context.Journal.Step(step.Name);
            if (record.Status is StepStatus.Pending or StepStatus.Skipped)
            {
                continue;
            }

            context.Record = record;
            try
            {
                await step.UndoAsync(context, timeout.Token);
                context.Journal.Save();
            }
            catch (Exception e) when (e is PgRelocateException or OperationCanceledException)
            {
                context.Reporter.Warn($"Could not undo {step.Name}: {e.Message}");
                context.Journal.AddLog($"warning: could not undo {step.Name}: {e.Message}");
            }
        }
    }
}

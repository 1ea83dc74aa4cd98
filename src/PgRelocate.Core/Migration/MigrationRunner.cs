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

    /// <summary>The heap above which the garbage of a finished step is collected at once (see <see cref="RunAsync"/>).</summary>
    private const long CollectAboveBytes = 32L << 20;

    /// <summary>Called just before a step runs (not for one done in an earlier run, nor one skipped): how an instance migration learns where its database's migration is.</summary>
    public Action<IMigrationStep>? Starting { get; init; }

    /// <summary>Runs (or resumes) the migration and returns the exit code it ends with.</summary>
    /// <remarks>
    /// Its phases: 1. refuse a migration another process runs, and abort the uploads a killed run left;
    /// 2. take the migration lock and record the start; 3. run the steps in order (<see cref="RunStepAsync"/>);
    /// 4. on any end, record how it ended (<see cref="Ended"/>) and undo the compensating steps.
    /// </remarks>
    /// <exception cref="PgRelocateException">The migration is already running in another process.</exception>
    /// <exception cref="MigrationLockedException">Another migration holds the target (or the read-only source); the journal is untouched.</exception>
    public async Task<ExitCode> RunAsync(MigrationOptions options, MigrationJournal journal, CancellationToken cancellationToken)
    {
        // 1. Nothing runs twice at once; a resumed run first aborts what a killed one left in the store.
        if (journal.IsRunningElsewhere())
        {
            throw new PgRelocateException($"Migration {journal.Id} is running in process {journal.Pid}: watch it with 'pgrelocate status {journal.Id}' or stop it with 'pgrelocate cancel {journal.Id}'.");
        }

        if (journal.Status != MigrationStatus.Pending)
        {
            // A resumed run: a killed one may have left uploads that the store keeps (and bills) until aborted.
            await MigrationPlan.AbortAbandonedUploadsAsync(journal, reporter, cancellationToken);
        }

        // 2. The lock, then the start recorded.
        await using var held = await HeldMigrationLock.AcquireAsync(journal.Id, LockedDatabases(options), cancellationToken);
        // An emptying of the target that stops halfway is finished by resuming (the journal keeps --confirm).
        options = options with { Into = options.Into with { OwnSessions = held.SessionIds, FinishCommand = NextStep.ResumeCommand(journal) } };
        var journalReporter = new JournalReporter(reporter, journal);
        var context = new MigrationContext { Options = options, Journal = journal, Binaries = binaries, Reporter = journalReporter };
        RecordStart(journal);
        // The step that was running when it stopped (none before the first, nor once all are done).
        var stepsDone = false;
        StepRecord? Current() => stepsDone ? null : context.Record;

        // A signal whose cleanup outlasts its grace period ends the process without unwinding this method: say so in the journal.
        using var lastWords = Tools.Interrupts.OnStop(() =>
        {
            Fail(Current(), "interrupted");
            journal.Status = MigrationStatus.Canceled;
            journal.Error = "Interrupted; it did not stop in time and was ended.";
            journal.Pid = null;
            journal.ExitCode = (int)ExitCode.Interrupted;
            journal.FinishedAt = DateTimeOffset.UtcNow;
            journal.AddLog("Interrupted: ended before it could clean up; 'pgrelocate cancel' or '--resume' finishes the cleanup.");
            journal.Save();
        });

        // 3. The steps, then 4. the end recorded and the compensating steps undone, whichever way it ended.
        var code = ExitCode.Success;
        try
        {
            foreach (var step in steps)
            {
                await RunStepAsync(step, context, journalReporter, cancellationToken);
            }

            stepsDone = true;
            journal.Status = MigrationStatus.Completed;
            await UndoAsync(context, success: true);
        }
        catch (Exception e)
        {
            code = Ended(journal, Current(), e, cancellationToken.IsCancellationRequested);
            await UndoAsync(context, success: false);
        }
        finally
        {
            lastWords.Dispose();
            journal.Pid = null;
            journal.FinishedAt = DateTimeOffset.UtcNow;
            journal.ExitCode = (int)code;
            journal.AddLog($"Finished: {journal.Status}.");
            journal.Save();
        }

        return code;
    }

    private static void RecordStart(MigrationJournal journal)
    {
        var resumed = journal.Status != MigrationStatus.Pending;
        journal.Pid = Environment.ProcessId;
        journal.Status = MigrationStatus.Running;
        journal.Error = null;
        journal.ErrorDetail = null;
        journal.ExitCode = null;
        journal.FinishedAt = null;
        journal.AddLog(resumed ? $"Resumed by process {Environment.ProcessId}." : $"Started by process {Environment.ProcessId}.");
        journal.Save();
    }

    /// <summary>Runs one step, recorded before and after; one done or skipped in an earlier run is passed over.</summary>
    private async Task RunStepAsync(IMigrationStep step, MigrationContext context, JournalReporter journalReporter, CancellationToken cancellationToken)
    {
        var (options, journal) = (context.Options, context.Journal);
        // A journal written before a step was added (--roles' steps) has no record of it: skipped, as it would be.
        if (!journal.Steps.Any(s => s.Name == step.Name) && step.SkipReason(options) is not null)
        {
            return;
        }

        var record = journal.Step(step.Name);
        context.Record = record;
        if (record.Status is StepStatus.Done or StepStatus.Skipped)
        {
            journalReporter.Info($"{step.Name}: done in a previous run{(record.Summary is null ? "" : ", " + record.Summary)}.");
            return;
        }

        if (step.SkipReason(options) is { } why)
        {
            record.Status = StepStatus.Skipped;
            record.Summary = why;
            journal.Save();
            return;
        }

        if (record.Status is StepStatus.Undone)
        {
            journalReporter.Info($"{step.Name}: undone when the previous run stopped; doing it again.");
        }
        else if (record.Status is StepStatus.Running or StepStatus.Failed)
        {
            journalReporter.Info($"{step.Name}: interrupted in a previous run; starting it again.");
        }

        Starting?.Invoke(step);
        journalReporter.CurrentStep = step.Name;
        record.Status = StepStatus.Running;
        record.StartedAt = DateTimeOffset.UtcNow;
        record.FinishedAt = null;
        record.Error = null;
        record.ErrorDetail = null;
        record.Tables.Clear();
        record.Lag = null;
        journal.Save();
        FaultInjection.At(step.Name, "start");

        await step.RunAsync(context, cancellationToken);

        // What the step read is garbage now (a copy's catalog of thousands of tables): collected before the
        // next step reads as much again (the verification, both catalogs), so the heap does not hold both. A
        // small heap is left to the collector: a full collection stops every thread (the early copy's too,
        // after the checks) for 3 to 15 ms, about 30 ms of a migration of 1,000 tables, whose heap stays
        // under 16 MB.
        if (GC.GetTotalMemory(forceFullCollection: false) > CollectAboveBytes)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }

        record.Status = StepStatus.Done;
        record.FinishedAt = DateTimeOffset.UtcNow;
        if (step.Estimated is { } part)
        {
            journal.Estimate?.Took(part, (record.FinishedAt - record.StartedAt).Value.TotalSeconds, options.Via is not null);
        }

        journal.AddLog($"{step.Name}: {record.Summary ?? "done"}");
        journal.Save();
        FaultInjection.At(step.Name, "end");
    }

    /// <summary>Records how a migration that threw ended, in its journal and the step that was running, and returns its exit code.</summary>
    private static ExitCode Ended(MigrationJournal journal, StepRecord? current, Exception e, bool canceled)
    {
        if (canceled)
        {
            // Cancelling breaks connections and pipes: whatever the step threw then, the cause is the cancel.
            Fail(current, "canceled", e is OperationCanceledException ? null : e.ToString());
            journal.Status = MigrationStatus.Canceled;
            journal.Error = "Canceled.";
            return ExitCode.Interrupted;
        }

        // An operational failure says what to do; anything else is a bug: all of it recorded, with its own exit code.
        var failure = Failures.Operational(e);
        var message = failure?.Message ?? Failures.BugMessage(e);
        Fail(current, message, e.ToString());
        journal.Status = MigrationStatus.Failed;
        journal.Error = message;
        journal.ErrorDetail = e.ToString();
        return failure?.ExitCode ?? ExitCode.Bug;
    }

    /// <summary>
    /// Cancels a migration that no process runs (its process was killed, or the machine restarted; or it has
    /// ended): one recorded as running is recorded as canceled, the uploads a killed run left are aborted, and the
    /// compensating steps the journal says did something are undone by their own undo, as a stopped run undoes
    /// them (a kept read-only source too). The journal keeps no passwords: each undo works only on the sides given
    /// here (<paramref name="source"/>, <paramref name="target"/>) and leaves its part on the others, which the
    /// journal then records as left (see <see cref="MigrationContext.HasSource"/>); given again later, they are
    /// undone then.
    /// </summary>
    /// <exception cref="PgRelocateException">A process runs the migration: stop it with <see cref="StopRunningAsync"/>.</exception>
    /// <param name="pgbouncerAdmin">PgBouncer's console with its password (cancel --pgbouncer); null: the recorded one, its password from libpq's own sources.</param>
    public async Task CancelAbandonedAsync(MigrationJournal journal, Connections.PgConnectionInfo? source, Connections.PgConnectionInfo? target, CancellationToken cancellationToken, Connections.PgConnectionInfo? pgbouncerAdmin = null)
    {
        ArgumentNullException.ThrowIfNull(journal);
        if (journal.IsRunningElsewhere())
        {
            throw new PgRelocateException($"Migration {journal.Id} is running in process {journal.Pid}: stop it with 'pgrelocate cancel {journal.Id}'.");
        }

        if (journal.Status == MigrationStatus.Running)
        {
            journal.Status = MigrationStatus.Canceled;
            journal.Error = "Canceled after its process had stopped.";
            journal.AddLog("Canceled; the process running it had already stopped.");
        }

        await MigrationPlan.AbortAbandonedUploadsAsync(journal, reporter, cancellationToken);
        var options = MigrationPlan.FromJournal(journal, source ?? Recorded(journal.Source), target ?? Recorded(journal.Target), showSecrets: false, pgbouncerAdmin);
        var context = new MigrationContext
        {
            Options = options,
            Journal = journal,
            Binaries = binaries,
            Reporter = new JournalReporter(reporter, journal),
            HasSource = source is not null,
            HasTarget = target is not null,
            Canceling = true,
        };
        await UndoAsync(context, success: false);
        journal.Save();
    }

    /// <summary>
    /// Asks the process running <paramref name="journal"/>'s migration to stop (SIGTERM: it stops its child processes
    /// and undoes its compensating steps, as on Ctrl-C) and waits, up to three minutes, until it has recorded its end.
    /// Returns the journal as it ended.
    /// </summary>
    /// <exception cref="UsageException">Its process is another user's, whom this one may not signal: refused at once, naming that user.</exception>
    /// <exception cref="PgRelocateException">It did not stop in time.</exception>
    public static async Task<MigrationJournal> StopRunningAsync(MigrationJournal journal, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(reporter);
        var pid = journal.Pid ?? throw new PgRelocateException($"Migration {journal.Id} records no process to stop.");
        if (ProcessSignals.TryTerminate(pid) == SignalOutcome.NotPermitted)
        {
            var owner = ProcessSignals.Owner(pid) ?? "another user";
            throw new UsageException(Sentences.NothingWasChanged($"Migration {journal.Id} runs as {owner} (process {pid}), whose processes this user may not stop: run 'pgrelocate cancel {journal.Id}' as {owner}"));
        }

        reporter.Info($"Asked process {pid} to stop migration {journal.Id}; waiting for it to clean up.");
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(500, cancellationToken);
            journal = journal.Reload();
            if (journal.Status != MigrationStatus.Running)
            {
                return journal;
            }
        }

        throw new PgRelocateException($"Migration {journal.Id} did not stop within 3 minutes: check process {journal.Pid}.");
    }

    /// <summary>A connection as the journal records it, without the password it hides (it may come from the environment).</summary>
    private static Connections.PgConnectionInfo Recorded(string url)
    {
        var info = Connections.PgConnectionInfo.Parse(url);
        return info.HasPassword ? info.WithCredentials(info.User, null) : info;
    }

    /// <summary>Where the migration lock is taken: the target, and the source when the migration makes it read-only.</summary>
    public static IEnumerable<(string Role, Connections.PgConnectionInfo Info)> LockedDatabases(MigrationOptions options)
    {
        yield return ("target", options.Into.Connection);
        if (options.ReadOnlySource)
        {
            yield return ("source", options.Source);
        }
    }

    private static void Fail(StepRecord? record, string error, string? detail = null)
    {
        if (record is null)
        {
            return;
        }

        record.Status = StepStatus.Failed;
        record.FinishedAt = DateTimeOffset.UtcNow;
        record.Error = error;
        record.ErrorDetail = detail;
    }

    /// <summary>Closes what was handed off and not taken, then undoes the compensating steps that did something (last first).</summary>
    internal async Task UndoAsync(MigrationContext context, bool success)
    {
        // What a step handed off and no later step took (a follow session holds the replication slot, which the
        // undoing may drop; a restore following the dump writes to the target) is closed first.
        await context.DisposeHandOffsAsync();

        // Undo even though the migration's own token may be cancelled: a read-only source must not stay so.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        foreach (var step in steps.OfType<ICompensatingStep>().Reverse())
        {
            if (success && step.KeepOnSuccess(context.Options))
            {
                continue;
            }

            var record = context.Journal.Step(step.Name);
            if (!step.LeftToUndo(record))
            {
                continue;
            }

            context.Record = record;
            try
            {
                await step.UndoAsync(context, timeout.Token);
                context.Journal.Save();
            }
            catch (Exception e) when (Failures.Operational(e) is not null || e is OperationCanceledException)
            {
                var why = Failures.Operational(e)?.Message ?? "it took too long";
                context.Reporter.Warn($"Could not undo {step.Name}: {why}");
                context.Journal.AddLog($"warning: could not undo {step.Name}: {why}");
            }
        }
    }
}

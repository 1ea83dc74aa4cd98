using System.Runtime.ExceptionServices;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Migration;

/// <summary>
/// Runs (or resumes) an instance migration (<see cref="InstanceJournal"/>): first every database's checks
/// (<see cref="InstanceChecks"/>), each in its child's journal, before anything changes on the target; then the roles
/// every database uses, created once (with --roles); then the databases, each created on the target where it is
/// missing and moved by its child migration (<paramref name="steps"/>, through the <see cref="MigrationRunner"/>) with
/// the instance's --jobs: one after another, or, given an <paramref name="together"/> (online), one copy after another
/// while those copied follow their source, then switched together (<see cref="MoveTogetherAsync"/>). A child that
/// completed is never run again; an interrupted one resumes through its own journal. The first child that fails stops
/// the instance migration with its exit code.
/// </summary>
internal sealed class InstanceRunner(IReadOnlyList<IMigrationStep> steps, PgBinaries binaries, IReporter reporter, IInstanceSwitch? together = null)
{
    /// <param name="options">The servers' options (any database on each), as the parent journal records them.</param>
    public async Task<ExitCode> RunAsync(MigrationOptions options, MigrationJournal parent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parent);
        if (parent.IsRunningElsewhere())
        {
            throw new PgRelocateException($"Migration {parent.Id} is running in process {parent.Pid}: watch it with 'pgrelocate status {parent.Id}' or stop it with 'pgrelocate cancel {parent.Id}'.");
        }

        var resumed = parent.Status != MigrationStatus.Pending;
        parent.Pid = Environment.ProcessId;
        parent.Status = MigrationStatus.Running;
        (parent.Error, parent.ErrorDetail, parent.ExitCode, parent.FinishedAt) = (null, null, null, null);
        parent.AddLog(resumed ? $"Resumed by process {Environment.ProcessId}." : $"Started by process {Environment.ProcessId}.");
        parent.Save();
        var code = ExitCode.Success;
        StepRecord? current = null;
        using var lastWords = Interrupts.OnStop(() =>
        {
            Fail(current, "interrupted");
            (parent.Status, parent.Error, parent.Pid, parent.ExitCode, parent.FinishedAt) = (MigrationStatus.Canceled, "Interrupted; it did not stop in time and was ended.", null, (int)ExitCode.Interrupted, DateTimeOffset.UtcNow);
            parent.Save();
        });
        try
        {
            var children = InstanceJournal.Children(parent);
            current = parent.Step(InstanceJournal.CheckStep);
            if (current.Status != StepStatus.Done)
            {
                await new InstanceChecks(binaries, reporter, together).RunAsync(options, parent, current, children, cancellationToken);
            }

            current = parent.Step(InstanceJournal.RolesStep);
            if (current.Status is not (StepStatus.Done or StepStatus.Skipped))
            {
                await CreateRolesAsync(options, parent, current, children, cancellationToken);
            }

            if (together is not null)
            {
                current = null;
                var (failed, failure) = await MoveTogetherAsync(options, parent, children, together, cancellationToken);
                if (failed is not null)
                {
                    (parent.Status, parent.Error) = (failure == ExitCode.Interrupted ? MigrationStatus.Canceled : MigrationStatus.Failed, $"database {failed}: {children.Single(c => c.Database == failed).Child.Error}");
                    return code = failure;
                }
            }
            else
            {
                foreach (var (database, child) in children)
                {
                    current = parent.Step(InstanceJournal.DatabaseStep(database));
                    code = await MoveAsync(options, parent, current, database, child, cancellationToken);
                    if (code != ExitCode.Success)
                    {
                        (parent.Status, parent.Error) = (code == ExitCode.Interrupted ? MigrationStatus.Canceled : MigrationStatus.Failed, $"database {database}: {child.Error}");
                        return code;
                    }
                }
            }

            current = null;
            parent.Status = MigrationStatus.Completed;
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested)
        {
            Fail(current, "canceled", e is OperationCanceledException ? null : e.ToString());
            (parent.Status, parent.Error, code) = (MigrationStatus.Canceled, "Canceled.", ExitCode.Interrupted);
        }
        catch (Exception e)
        {
            var failure = Failures.Operational(e);
            var message = failure?.Message ?? Failures.BugMessage(e);
            Fail(current, message, e.ToString());
            (parent.Status, parent.Error, parent.ErrorDetail, code) = (MigrationStatus.Failed, message, e.ToString(), failure?.ExitCode ?? ExitCode.Bug);
        }
        finally
        {
            FaultInjection.Scope = null;
            lastWords.Dispose();
            (parent.Pid, parent.FinishedAt, parent.ExitCode) = (null, DateTimeOffset.UtcNow, (int)code);
            parent.AddLog($"Finished: {parent.Status}.");
            parent.Save();
        }

        return code;
    }

    /// <summary>
    /// Cancels an instance migration no process runs: each child that started and did not complete is canceled by
    /// its own undo (<see cref="MigrationRunner.CancelAbandonedAsync"/>) on the sides given, then the parent is
    /// recorded as canceled.
    /// </summary>
    public async Task CancelAbandonedAsync(MigrationJournal parent, PgConnectionInfo? source, PgConnectionInfo? target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parent);
        if (parent.IsRunningElsewhere())
        {
            throw new PgRelocateException($"Migration {parent.Id} is running in process {parent.Pid}: stop it with 'pgrelocate cancel {parent.Id}'.");
        }

        foreach (var (database, child) in InstanceJournal.Children(parent))
        {
            if (child.Status is MigrationStatus.Completed or MigrationStatus.Pending)
            {
                continue;
            }

            await new MigrationRunner(steps, binaries, reporter).CancelAbandonedAsync(child, source?.WithDatabase(database), target?.WithDatabase(database), cancellationToken);
        }

        if (parent.Status == MigrationStatus.Running)
        {
            (parent.Status, parent.Error) = (MigrationStatus.Canceled, "Canceled after its process had stopped.");
            parent.AddLog("Canceled; the process running it had already stopped.");
        }

        parent.Save();
    }

    /// <summary>With --roles: the roles every database uses, created once; each child's own roles step then finds them.</summary>
    private static async Task CreateRolesAsync(MigrationOptions options, MigrationJournal parent, StepRecord record, IReadOnlyList<(string Database, MigrationJournal Child)> children, CancellationToken cancellationToken)
    {
        if (!options.Roles)
        {
            (record.Status, record.Summary) = (StepStatus.Skipped, "roles are not migrated (no --roles)");
            parent.Save();
            return;
        }

        Begin(parent, record);
        var outcomes = new Dictionary<string, (RoleOutcome Outcome, List<string> Databases)>(StringComparer.Ordinal);
        await using var target = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken);
        foreach (var (database, _) in children)
        {
            await using var source = await Db.OpenAsync(options.Source.WithDatabase(database), "source", cancellationToken);
            foreach (var o in await TargetRoles.CreateAsync(source, target, options.RoleRenames, options.PrivilegedAttributes, cancellationToken))
            {
                // A role a database before created is found "reused" by the next: the first outcome says what happened.
                var key = o.Role + "\n" + (o.Action.StartsWith("member of", StringComparison.Ordinal) ? o.Action : "");
                if (!outcomes.TryGetValue(key, out var seen))
                {
                    outcomes[key] = seen = (o, []);
                }

                seen.Databases.Add(database);
            }
        }

        record.Tables.Add(new ReportTable("Roles", ["role", "action", "note", "used by"],
            outcomes.Values.Select(v => (IReadOnlyList<string>)[v.Outcome.Role, v.Outcome.Action, v.Outcome.Note, string.Join(", ", v.Databases)]).ToList())
        { Note = "The databases use no role but the login role." });
        var created = outcomes.Values.Count(v => v.Outcome.Action == "created");
        var reused = outcomes.Values.Count(v => v.Outcome.Action.StartsWith("reused", StringComparison.Ordinal));
        Done(parent, record, $"{created} created, {reused} reused, for {children.Count} databases (each database's own roles step then finds them)");
    }

    /// <summary>One database: created on the target where missing, then moved (or resumed) by its child migration.</summary>
    private async Task<ExitCode> MoveAsync(MigrationOptions options, MigrationJournal parent, StepRecord record, string database, MigrationJournal child, CancellationToken cancellationToken)
    {
        if (Moved(parent, record, child))
        {
            return ExitCode.Success;
        }

        await StartAsync(options, parent, record, database, child, cancellationToken);
        FaultInjection.Scope = database;
        var code = await new MigrationRunner(steps, binaries, reporter).RunAsync(ChildOptions(options, database, child), child, cancellationToken);
        FaultInjection.Scope = null;
        End(parent, record, child, code);
        return code;
    }

    /// <summary>A child that completed in an earlier run: its record in the parent completed too.</summary>
    private bool Moved(MigrationJournal parent, StepRecord record, MigrationJournal child)
    {
        if (child.Status != MigrationStatus.Completed)
        {
            return false;
        }

        if (record.Status != StepStatus.Done)
        {
            Summarize(record, child);
            Done(parent, record, record.Summary!);
        }

        reporter.Info($"{record.Name}: done in a previous run (migration {child.Id}).");
        return true;
    }

    /// <summary>A database's move begins: recorded, and the database created on the target where it is missing.</summary>
    private async Task StartAsync(MigrationOptions options, MigrationJournal parent, StepRecord record, string database, MigrationJournal child, CancellationToken cancellationToken)
    {
        Begin(parent, record);
        reporter.Info($"{record.Name}: migration {child.Id}.");
        await using var server = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken);
        if (!await InstanceDatabases.ExistsAsync(server, database, cancellationToken))
        {
            var created = await InstanceDatabases.CreateAsync(options.Source.WithDatabase(database), options.Into.Connection, options.Roles, options.RoleRenames, cancellationToken);
            record.Set(InstanceJournal.Created, created);
            parent.AddLog($"{record.Name}: {created}.");
            parent.Save();
        }
    }

    /// <summary>The options a child runs with: its journal's, on its database of the servers given.</summary>
    private static MigrationOptions ChildOptions(MigrationOptions options, string database, MigrationJournal child) =>
        MigrationPlan.FromJournal(child, options.Source.WithDatabase(database), options.Into.Connection.WithDatabase(database), options.ShowSecrets) with { NotConsistent = options.NotConsistent };

    /// <summary>A database's move ended with <paramref name="code"/>: its child's outcome in the parent's record.</summary>
    private static void End(MigrationJournal parent, StepRecord record, MigrationJournal child, ExitCode code)
    {
        Summarize(record, child);
        if (code == ExitCode.Success)
        {
            Done(parent, record, record.Summary!);
        }
        else
        {
            Fail(record, child.Error ?? child.Status.ToString());
            parent.Save();
        }
    }

    /// <summary>The child's steps and cutover summary, in the parent's record of its database, for the report.</summary>
    private static void Summarize(StepRecord record, MigrationJournal child)
    {
        record.Tables.Clear();
        record.Tables.Add(new ReportTable($"Migration {child.Id}: {child.Source} → {child.Target}", ["step", "status", "summary"],
            child.Steps.Select(s => (IReadOnlyList<string>)[s.Name, s.Status.ToString(), s.Error ?? s.Summary ?? ""]).ToList()));
        if (child.Status == MigrationStatus.Completed)
        {
            record.Tables.AddRange(child.Step(CutoverStep.StepName).Tables);
        }

        var created = record.Get(InstanceJournal.Created);
        record.Summary = $"migration {child.Id} {child.Status.ToString().ToLowerInvariant()}{(created is null ? "" : "; database " + created)}";
    }

    internal static void Begin(MigrationJournal journal, StepRecord record)
    {
        (record.Status, record.StartedAt, record.FinishedAt, record.Error, record.ErrorDetail) = (StepStatus.Running, DateTimeOffset.UtcNow, null, null, null);
        record.Tables.Clear();
        journal.Save();
    }

    internal static void Done(MigrationJournal journal, StepRecord record, string summary)
    {
        (record.Status, record.FinishedAt, record.Summary) = (StepStatus.Done, DateTimeOffset.UtcNow, summary);
        journal.AddLog($"{record.Name}: {summary}");
        journal.Save();
    }

    internal static void Fail(StepRecord? record, string error, string? detail = null)
    {
        if (record is not null)
        {
            (record.Status, record.FinishedAt, record.Error, record.ErrorDetail) = (StepStatus.Failed, DateTimeOffset.UtcNow, error, detail);
        }
    }

    /// <summary>
    /// Each database's migration runs, in order, until it reaches the switch's wait step (the follow); the next one
    /// starts then, so one database copies while those before it follow their source. With every one of them
    /// waiting, <paramref name="together"/> has them switch together. The first that ends without completing stops
    /// the others, each canceled as one online migration is on Ctrl-C (its slot and publication removed: a resumed
    /// one copies again). Returns the database that failed first and its exit code, or (null, Success).
    /// </summary>
    private async Task<(string? Database, ExitCode Code)> MoveTogetherAsync(MigrationOptions options, MigrationJournal parent, IReadOnlyList<(string Database, MigrationJournal Child)> children, IInstanceSwitch together, CancellationToken cancellationToken)
    {
        var names = steps.Select(s => s.Name).ToList();
        var wait = names.IndexOf(together.WaitStep);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var switched = false;
        var moving = new List<(string Database, MigrationJournal Child, StepRecord Record, Task<ExitCode> Run)>();
        ExceptionDispatchInfo? thrown = null;
        try
        {
            foreach (var (database, child) in children)
            {
                var record = parent.Step(InstanceJournal.DatabaseStep(database));
                if (Moved(parent, record, child))
                {
                    continue;
                }

                await StartAsync(options, parent, record, database, child, stop.Token);
                var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var runner = new MigrationRunner(steps, binaries, new DatabaseReporter(reporter, database))
                {
                    Starting = step =>
                    {
                        if (names.IndexOf(step.Name) >= wait)
                        {
                            waiting.TrySetResult();
                        }
                    },
                };
                var childOptions = ChildOptions(options, database, child);
                var run = Task.Run(
                    async () =>
                    {
                        FaultInjection.Scope = database;
                        return await runner.RunAsync(childOptions, child, stop.Token);
                    },
                    CancellationToken.None);
                _ = run.ContinueWith(
                    t =>
                    {
                        if (!t.IsCompletedSuccessfully || t.Result != ExitCode.Success)
                        {
                            failed.TrySetResult();
                        }
                    },
                    TaskScheduler.Default);
                moving.Add((database, child, record, run));
                await Task.WhenAny(waiting.Task, run, failed.Task);
                if (failed.Task.IsCompleted)
                {
                    break;
                }
            }

            if (!failed.Task.IsCompleted && moving.Count > 0)
            {
                // Ended: one failed, or (resumed in the middle of the switch) every one went on to complete.
                var ended = Task.WhenAny(failed.Task, Task.WhenAll(moving.Select(m => m.Run)));
                await together.SwitchTogetherAsync(options, parent, moving.Select(m => m.Child).ToList(), ended, reporter, stop.Token);
                switched = !failed.Task.IsCompleted;
            }
        }
        catch (Exception e)
        {
            thrown = ExceptionDispatchInfo.Capture(e);
        }

        // One that ended before the switch (it failed, or was canceled) stops the others; after it, each ends on its own.
        if (!switched)
        {
            await stop.CancelAsync();
        }

        (string? Database, ExitCode Code) first = (null, ExitCode.Success);
        foreach (var (database, child, record, run) in moving)
        {
            ExitCode code;
            try
            {
                code = await run;
            }
            catch (Exception e)
            {
                thrown ??= ExceptionDispatchInfo.Capture(e);
                code = ExitCode.Failed;
            }

            End(parent, record, child, code);
            // The database whose own failure stopped the rest is named, not one stopped because of it.
            if (code != ExitCode.Success && (first.Database is null || (first.Code == ExitCode.Interrupted && code != ExitCode.Interrupted)))
            {
                first = (database, code);
            }
        }

        thrown?.Throw();
        return first;
    }

    /// <summary>A database's migration as one of several running side by side: its messages and progress name the database.</summary>
    private sealed class DatabaseReporter(IReporter inner, string database) : IReporter
    {
        public void Log(LogLevel level, string message) => inner.Log(level, $"{database}: {message}");

        public void Progress(ProgressUpdate update) => inner.Progress(update with { Task = $"{database}: {update.Task}" });
    }
}

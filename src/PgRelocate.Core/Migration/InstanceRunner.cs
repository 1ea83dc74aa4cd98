using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Migration;

/// <summary>
/// Runs (or resumes) an instance migration (<see cref="InstanceJournal"/>): first every database's checks, each
/// in its child's journal, before anything changes on the target; then the roles every database uses, created
/// once (with --roles); then the databases, each created on the target where it is missing and moved by its child
/// migration (<paramref name="steps"/>, through the <see cref="MigrationRunner"/>) with the instance's --jobs: one
/// after another, or, given an <paramref name="together"/> (online), one copy after another while those copied
/// follow their source, then switched together (InstanceRunner.Together.cs). A child that completed is never run
/// again; an interrupted one resumes through its own journal. The first child that fails stops the instance
/// migration with its exit code.
/// </summary>
internal sealed partial class InstanceRunner(IReadOnlyList<IMigrationStep> steps, PgBinaries binaries, IReporter reporter, IInstanceSwitch? together = null)
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
                await CheckAllAsync(options, parent, current, children, cancellationToken);
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

    /// <summary>Every database's checks, in its child's journal; blockers of all of them are said before anything changes.</summary>
    private async Task CheckAllAsync(MigrationOptions options, MigrationJournal parent, StepRecord record, IReadOnlyList<(string Database, MigrationJournal Child)> children, CancellationToken cancellationToken)
    {
        Begin(parent, record);
        var confirmAll = bool.TryParse(parent.Options.GetValueOrDefault(InstanceJournal.ConfirmAllKey), out var all) && all;
        var rows = new List<IReadOnlyList<string>>();
        var blocked = new List<PgRelocateException>();
        await using (var server = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken))
        {
            var mayCreate = await InstanceDatabases.MayCreateAsync(server, cancellationToken);
            foreach (var (database, child) in children)
            {
                if (child.Status == MigrationStatus.Completed)
                {
                    rows.Add([database, "moved", $"migration {child.Id} completed"]);
                    continue;
                }

                var exists = await InstanceDatabases.ExistsAsync(server, database, cancellationToken);
                var ours = parent.Step(InstanceJournal.DatabaseStep(database)).Has(InstanceJournal.Created);
                if (!exists && !mayCreate)
                {
                    blocked.Add(new PgRelocateException($"database {database}: the target has no database {database} and {options.Into.Connection.User} may not create one (no CREATEDB): create it there, empty, or ask the provider for CREATEDB", ExitCode.Differences));
                    rows.Add([database, "blocked", "missing on the target, and the login role may not create it"]);
                    continue;
                }

                // A database still to create is checked on the server the target URL names (its version, rights, extensions).
                var childOptions = InstanceJournal.ChildOptions(options, database);
                if (exists && await SameDatabaseAsync(childOptions, cancellationToken) is { } same)
                {
                    blocked.Add(new PgRelocateException($"database {database}: {same.TrimEnd('.')}", ExitCode.Usage));
                    rows.Add([database, "blocked", "the source itself"]);
                    continue;
                }

                var checkOptions = exists ? childOptions : childOptions with { Into = childOptions.Into with { Connection = options.Into.Connection }, DatabaseToCreate = database };
                var holds = await CheckChildAsync(child, checkOptions, blocked, database, cancellationToken);
                if (holds is not null && exists && !ours && !confirmAll)
                {
                    blocked.Add(new PgRelocateException($"database {database}: {holds} Pass --confirm-all to replace what the target's databases hold", ExitCode.Differences));
                }

                rows.Add([database, exists ? "exists on the target" : "to create", holds is null ? child.Step(CheckStep.StepName).Summary ?? "" : holds]);
            }
        }

        var moving = children.Where(c => c.Child.Status != MigrationStatus.Completed).Select(c => c.Child).ToList();
        if (together is not null && await together.BlockerAsync(options, moving, cancellationToken) is { } blocker)
        {
            blocked.Add(new PgRelocateException(blocker, ExitCode.Differences));
        }

        record.Tables.Add(new ReportTable("Databases", ["database", "target", "checks"], rows));
        if (blocked.Count > 0)
        {
            var first = blocked[0];
            throw new PgRelocateException(
                $"{first.Message}{(blocked.Count > 1 ? $"; and {blocked.Count - 1} more: {string.Join("; ", blocked.Skip(1).Select(b => b.Message))}" : "")}. Nothing was changed on the target.",
                blocked.Max(b => b.ExitCode));
        }

        Done(parent, record, $"{children.Count} databases checked");
    }

    /// <summary>Why the target of one database is its source (the same server given as both); null when it is not.</summary>
    private static async Task<string?> SameDatabaseAsync(MigrationOptions child, CancellationToken cancellationToken)
    {
        try
        {
            await Targets.TargetPreparation.RefuseSameDatabaseAsync(child.Source, child.Into.Connection, cancellationToken);
            return null;
        }
        catch (UsageException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Runs the check step of <paramref name="child"/>, then the instance's other checks (<see cref="IInstanceSwitch.Checks"/>);
    /// returns what its target holds (the "target empty" blocker the instance's --confirm-all decides on), or null.
    /// </summary>
    private async Task<string?> CheckChildAsync(MigrationJournal child, MigrationOptions options, List<PgRelocateException> blocked, string database, CancellationToken cancellationToken)
    {
        foreach (var step in (IEnumerable<IMigrationStep>)[new CheckStep(), .. together?.Checks ?? []])
        {
            var record = child.Step(step.Name);
            Begin(child, record);
            var context = new MigrationContext { Options = options, Journal = child, Binaries = binaries, Reporter = new QuietReporter(reporter, database), Record = record };
            try
            {
                await step.RunAsync(context, cancellationToken);
                Done(child, record, record.Summary ?? "done");
                (child.Error, child.Status) = (null, MigrationStatus.Pending);
            }
            catch (Exception e) when (Failures.Operational(e) is { } failure && !cancellationToken.IsCancellationRequested)
            {
                Fail(record, failure.Message, e.ToString());
                (child.Status, child.Error, child.ExitCode) = (MigrationStatus.Failed, failure.Message, (int)failure.ExitCode);
                blocked.Add(new PgRelocateException($"database {database}: {failure.Message.TrimEnd('.')}", failure.ExitCode));
                break;
            }
            finally
            {
                child.Save();
            }
        }

        var empty = child.Step(CheckStep.StepName).Tables.FirstOrDefault(t => t.Title == "Preflight checks")?.Rows.FirstOrDefault(r => r[0] == "target empty" && r[1] == "block");
        return empty?[2];
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

    private static void Begin(MigrationJournal journal, StepRecord record)
    {
        (record.Status, record.StartedAt, record.FinishedAt, record.Error, record.ErrorDetail) = (StepStatus.Running, DateTimeOffset.UtcNow, null, null, null);
        record.Tables.Clear();
        journal.Save();
    }

    private static void Done(MigrationJournal journal, StepRecord record, string summary)
    {
        (record.Status, record.FinishedAt, record.Summary) = (StepStatus.Done, DateTimeOffset.UtcNow, summary);
        journal.AddLog($"{record.Name}: {summary}");
        journal.Save();
    }

    private static void Fail(StepRecord? record, string error, string? detail = null)
    {
        if (record is not null)
        {
            (record.Status, record.FinishedAt, record.Error, record.ErrorDetail) = (StepStatus.Failed, DateTimeOffset.UtcNow, error, detail);
        }
    }

    /// <summary>
    /// A child's checks as the instance runs them: its warnings name the database, and the one saying the child's
    /// --confirm replaces its target is left out (the instance decides that, by --confirm-all).
    /// </summary>
    private sealed class QuietReporter(IReporter inner, string database) : IReporter
    {
        public void Log(LogLevel level, string message)
        {
            if (!message.Contains("--confirm allows replacing the target", StringComparison.Ordinal))
            {
                inner.Log(level, level == LogLevel.Info ? message : $"database {database}: {message}");
            }
        }

        public void Progress(ProgressUpdate update) => inner.Progress(update);
    }
}

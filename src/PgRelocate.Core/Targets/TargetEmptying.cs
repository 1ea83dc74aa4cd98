using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Preflight;
using PgRelocate.Progress;

namespace PgRelocate.Targets;

/// <summary>
/// The second phase of <see cref="TargetPreparation"/>: empties a checked target with the statements of
/// EmptyPlan.sql, dependents first, committed in batches that each fit a quarter of the server's lock table
/// (<see cref="LockTable.Budget"/>, counted by <see cref="EmptySteps"/>), so a target of any size can be
/// replaced under the default max_locks_per_transaction. The first transaction looks again at everything
/// (--confirm, and what the DROPs would take or leave that the login role may not drop) before its first DROP;
/// each later one looks again at what its own DROPs would take. A batch that would drop a surviving extension
/// is rolled back. When it stops after a batch was committed (an error, a cancel), the message says how much is
/// dropped and which command empties the rest: the same command again, or <see cref="TargetRequirements.FinishCommand"/>.
/// </summary>
internal sealed class TargetEmptying(TargetPreparation prepared, IReporter reporter)
{
    private PgConnectionInfo Target => prepared.Target;

    private TargetRequirements Requirements => prepared.Requirements;

    /// <summary>The DROP statements sent together, in one round trip (they run one after another in the batch's transaction either way).</summary>
    private const int StatementsPerTrip = 100;

    /// <summary>How many user objects there were when the emptying began.</summary>
    private int _objects;

    /// <summary>Whether a batch was committed: from then on the target is changed.</summary>
    private bool _changed;

    /// <summary>The open transaction, rolled back when the emptying stops; null between batches.</summary>
    private NpgsqlTransaction? _tx;

    /// <summary>Splits the statements, in order, into batches of at most <paramref name="budget"/> locks; the repeated one (large objects) alone.</summary>
    public static List<List<EmptyStep>> Batches(IReadOnlyList<EmptyStep> steps, long budget)
    {
        var batches = new List<List<EmptyStep>>();
        List<EmptyStep>? current = null;
        long locks = 0;
        foreach (var step in steps)
        {
            if (current is null || step.Repeats || current[^1].Repeats || locks + step.Locks > budget)
            {
                current = [];
                batches.Add(current);
                locks = 0;
            }

            current.Add(step);
            locks += step.Locks;
        }

        return batches;
    }

    /// <summary>
    /// Empties the target, in its phases: the session set up, the plan read in the first transaction (which
    /// refuses before any DROP), the batches each committed in a transaction of its own while a watcher names
    /// what holds a lock they wait for, and the final look that nothing is left. A stop says where the target stands.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(Target, "target", cancellationToken);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = new LockWatcher(Target, conn.ProcessID, reporter);
        Task? watch = null;
        try
        {
            // 1. The session: every batch waits as long for a lock, every name prints qualified.
            await SetUpSessionAsync(conn, cancellationToken);

            // 2. The first transaction looks at everything again and plans the batches; nothing to do on an empty target.
            if (await PlanAsync(conn, cancellationToken) is not { } plan)
            {
                return;
            }

            // 3. Said once, then the locks the batches wait for are watched.
            reporter.Warn($"Replacing the {_objects} objects in {Target.Display} (--confirm {Target.Database}){(plan.Batches.Count > 1 ? $", in {plan.Batches.Count} transactions that fit its lock table: if this stops halfway, {Finish}" : "")}.");
            watch = watcher.RunAsync(watching.Token);

            // 4. The batches, each committed in a transaction of its own.
            for (var i = 0; i < plan.Batches.Count; i++)
            {
                await RunBatchAsync(conn, plan, i, cancellationToken);
            }

            // 5. The look that nothing is left: whatever is, is another role's, and refused.
            await RefuseRemainingAsync(conn, cancellationToken);
            Requirements.Changes.Now(TargetCondition.Emptied);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            var holders = watcher.LastBlockers.Count > 0 ? string.Join("; ", watcher.LastBlockers) : "another session";
            throw await FailedAsync($"waited {Units.Duration(Requirements.LockTimeout)} for a lock held by {holders}. End that session or let it finish, then run again (--lock-timeout sets the wait).", e);
        }
        catch (PostgresException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw await FailedAsync($"{e.MessageText}. The login role may only drop what it owns: drop the rest as its owner, or restore into an empty database.", e);
        }
        catch (Exception e) when (e is not PgRelocateException)
        {
            // Canceled, or the connection broke: whatever is said of the cause, say where the target stands.
            await RollbackAsync(_tx);
            if (_changed)
            {
                reporter.Warn(await OutcomeAsync());
            }

            throw;
        }
        finally
        {
            await watching.CancelAsync();
            if (watch is not null)
            {
                await watch;
            }
        }
    }

    /// <summary>For the whole session: no JIT for the catalog queries, every batch waits --lock-timeout for a lock, and every name prints qualified.</summary>
    private async Task SetUpSessionAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        await Db.WithoutJitAsync(conn, cancellationToken);
        await using var cmd = new NpgsqlCommand("SELECT pg_catalog.set_config('lock_timeout', @timeout, false), pg_catalog.set_config('search_path', '', false)", conn);
        cmd.Parameters.AddWithValue("timeout", ((long)Requirements.LockTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms");
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Opens the first transaction and reads in it what there is to drop, left open for the first batch; null,
    /// committed, when the target holds nothing. Refuses, before any DROP, a target not confirmed by its name and
    /// what the DROPs would take or leave that the login role may not drop.
    /// </summary>
    private async Task<Plan?> PlanAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var tx = await BeginAsync(conn, cancellationToken);
        var objects = await UserObjects.ReadAsync(conn, cancellationToken);
        _objects = objects.Count;
        if (objects.Count == 0)
        {
            await tx.CommitAsync(cancellationToken);
            return null;
        }

        if (TargetPreparation.Emptiness(Target.Database, Requirements.Confirm, objects) is { Status: CheckStatus.Block } refused)
        {
            throw new UsageException(Sentences.NothingWasChanged(refused.Found, refused.Next));
        }

        // Again in this transaction, before the first DROP: another role's object may have appeared since the check.
        await RefuseOtherRolesAsync(conn, null, [], cancellationToken);
        var steps = await EmptySteps.ReadAsync(conn, cancellationToken);
        var droppedExtensions = steps.Where(s => s.Step == EmptyStep.ExtensionStep && s.ObjectId is not null).Select(s => s.ObjectId!.Value).ToList();
        var lockTable = await LockTable.ReadAsync(conn, cancellationToken);
        var dropped = steps.Where(s => s.Step == EmptyStep.ExtensionStep).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var kept = (await Extensions.InstalledAsync(conn, cancellationToken)).Select(e => e.Name).Where(n => !dropped.Contains(n)).ToList();
        return new Plan(Batches(steps, lockTable.Budget), droppedExtensions, kept);
    }

    /// <summary>
    /// Batch <paramref name="index"/>: in the transaction the plan left open (the first) or in one of its own, which
    /// looks again at what its DROPs would take; its statements, large objects a thousand at a time each thousand
    /// committed; refused when it took an extension that was to survive; then committed.
    /// </summary>
    private async Task RunBatchAsync(NpgsqlConnection conn, Plan plan, int index, CancellationToken cancellationToken)
    {
        var batch = plan.Batches[index];
        var tx = _tx;
        if (tx is null)
        {
            tx = await BeginAsync(conn, cancellationToken);
            // Again for this batch's DROPs, in its transaction: what they take may have changed since.
            var roots = batch.Where(s => !s.Repeats).Select(s => (s.ClassId!.Value, s.ObjectId!.Value)).ToList();
            if (roots.Count > 0)
            {
                await RefuseOtherRolesAsync(conn, roots, plan.DroppedExtensions, cancellationToken);
            }
        }

        // Its DROPs a hundred to a round trip (one each: at 20,000 tables, 28,400 round trips, about 4 s of a 20 s emptying).
        foreach (var trip in batch.Where(s => !s.Repeats).Chunk(StatementsPerTrip))
        {
            foreach (var step in trip)
            {
                reporter.Debug(step.Sql);
            }

            await Db.ExecuteAsync(conn, string.Join(";\n", trip.Select(s => s.Sql)), cancellationToken);
        }

        // A thousand large objects at a time, each thousand committed, until none of the login role's is left (alone in its batch).
        foreach (var step in batch.Where(s => s.Repeats))
        {
            reporter.Debug(step.Sql);
            while ((await Db.ListAsync(conn, step.Sql, _ => 0, cancellationToken)).Count > 0)
            {
                await tx.CommitAsync(cancellationToken);
                MarkChanged();
                tx = await BeginAsync(conn, cancellationToken);
            }
        }

        await RefuseGoneExtensionsAsync(conn, plan.Kept, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        _tx = null;
        MarkChanged();
        reporter.Debug($"Emptying the target: batch {index + 1} of {plan.Batches.Count} committed.");
    }

    /// <summary>Refuses, before its commit, a batch that dropped an extension the plan kept (one the login role could not make again).</summary>
    private async Task RefuseGoneExtensionsAsync(NpgsqlConnection conn, List<string> kept, CancellationToken cancellationToken)
    {
        var gone = kept.Except((await Extensions.InstalledAsync(conn, cancellationToken)).Select(e => e.Name), StringComparer.Ordinal).ToList();
        if (gone.Count > 0)
        {
            throw new PgRelocateException(
                $"Could not empty the target without dropping {Sentences.Plural(gone.Count, "extension")} {string.Join(", ", gone)}, which {(gone.Count == 1 ? "is" : "are")} not the login role's to make again: drop what depends on {(gone.Count == 1 ? "it" : "them")} by hand, or restore into an empty database. {await OutcomeAsync()}");
        }
    }

    /// <summary>Refuses, once every batch is committed, a target that still holds objects: another role's.</summary>
    private async Task RefuseRemainingAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var remaining = await UserObjects.ReadAsync(conn, cancellationToken);
        if (remaining.Count > 0)
        {
            throw new PgRelocateException(
                $"Could not empty the target: {UserObjects.Sample(remaining, 5)} {Sentences.Plural(remaining.Count, "remains", "remain")}, owned by another role. Drop them as their owner, or restore into an empty database. {await OutcomeAsync()}");
        }
    }

    /// <summary>The server refused a statement: the open transaction rolled back, the error says why, what to do and where the target stands.</summary>
    private async Task<PgRelocateException> FailedAsync(string why, PostgresException e)
    {
        await RollbackAsync(_tx);
        return new PgRelocateException($"Could not empty the target: {why} {await OutcomeAsync()}", ExitCode.Failed, e);
    }

    /// <summary>Begins a transaction, kept to be rolled back when the emptying stops in it.</summary>
    private async Task<NpgsqlTransaction> BeginAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        _tx = await conn.BeginTransactionAsync(cancellationToken);

    /// <summary>A batch is committed: the target is partly emptied, for the message and for what an interrupt says.</summary>
    private void MarkChanged()
    {
        _changed = true;
        Requirements.Changes.Now(TargetCondition.PartlyEmptied);
    }

    /// <summary>Refuses, before this transaction's DROPs, what they would take or leave that the login role may not drop.</summary>
    private async Task RefuseOtherRolesAsync(NpgsqlConnection conn, IReadOnlyList<(uint, uint)>? roots, IReadOnlyList<uint> extensions, CancellationToken cancellationToken)
    {
        if (TargetPreparation.OtherRoles(Target, await EmptyBlockers.ReadAsync(conn, roots, extensions, cancellationToken)) is { Status: CheckStatus.Block } others)
        {
            throw new PgRelocateException(Sentences.Join(others.Found, others.Next, await OutcomeAsync()));
        }
    }

    /// <summary>The command that empties the rest, as a clause: "running the same command again with --confirm app empties the rest".</summary>
    private string Finish => Requirements.FinishCommand is { } command
        ? $"'{command}' empties the rest"
        : $"running the same command again with --confirm {Target.Database} empties the rest";

    /// <summary>
    /// Where the target stands: nothing changed, emptied (everything dropped), or how much is dropped (counted
    /// again on a session of its own, the emptying's may be broken) and the command that empties the rest.
    /// </summary>
    private async Task<string> OutcomeAsync()
    {
        if (!_changed)
        {
            return "Nothing was changed.";
        }

        var finish = Finish;
        try
        {
            using var time = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await using var conn = await Db.OpenAsync(Target, "target", time.Token);
            await Db.WithoutJitAsync(conn, time.Token);
            var left = (await UserObjects.ReadAsync(conn, time.Token)).Count;
            if (left == 0)
            {
                // Stopped after its last DROP: emptied, not partly, whatever stopped it.
                Requirements.Changes.Now(TargetCondition.Emptied);
                return $"The target is emptied ({_objects} objects dropped) and nothing was written into it yet; {(Requirements.FinishCommand is { } command ? $"'{command}'" : "running the same command again")} fills it.";
            }

            return $"The target is partly emptied: {Math.Max(_objects - left, 0)} of {_objects} objects dropped; {finish}.";
        }
        catch (Exception e) when (e is PgRelocateException or NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return $"The target is partly emptied (of its {_objects} objects, some are dropped); {finish}.";
        }
    }

    private static async Task RollbackAsync(NpgsqlTransaction? tx)
    {
        if (tx is null)
        {
            return;
        }

        try
        {
            await tx.RollbackAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The connection broke or the transaction already ended: the server rolls it back.
        }
    }

    /// <summary>
    /// What the first transaction read: the batches in order, the extensions the emptying drops (the later
    /// batches' looks again are told), and the installed extensions that must survive every batch.
    /// </summary>
    private sealed record Plan(List<List<EmptyStep>> Batches, List<uint> DroppedExtensions, List<string> Kept);

    /// <summary>Watches a session from another connection and says which sessions hold the locks it waits for.</summary>
    private sealed class LockWatcher(PgConnectionInfo target, int pid, IReporter reporter)
    {
        public IReadOnlyList<SessionInfo> LastBlockers { get; private set; } = [];

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            try
            {
                await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
                var reported = new HashSet<int>();
                while (true)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
                    var blockers = await ServerSessions.BlockingAsync(conn, pid, cancellationToken);
                    if (blockers.Count > 0)
                    {
                        LastBlockers = blockers;
                    }

                    if (blockers.Any(b => reported.Add(b.Pid)))
                    {
                        reporter.Warn($"Emptying the target waits for a lock held by {string.Join("; ", blockers)}.");
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Emptying ended.
            }
            catch (Exception e) when (e is PgRelocateException or NpgsqlException)
            {
                // Watching is a courtesy: without it the wait still ends at the lock timeout.
                reporter.Debug("Could not watch the target's locks: " + e.Message);
            }
        }
    }
}

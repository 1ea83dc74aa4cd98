using PgRelocate.Online.Follow;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using NpgsqlTypes;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Verify;

namespace PgRelocate.Online;

/// <summary>
/// Proves the target exact while the source stays live, without adding a full verification to the downtime:
/// a temporary replication slot exports a snapshot whose position is known exactly (it holds every
/// transaction committed before the slot's consistent point, and none after), the apply pauses at that same
/// position only long enough to hold the target in a snapshot of its own, then goes on while the existing row
/// checksums compare the two snapshots: the proof adds no lag however long it takes (only a TRUNCATE that
/// arrives meanwhile waits for it, see <see cref="Follower.RunAsync"/>). A table the source truncated while it
/// was compared is compared again at a new position: TRUNCATE is not MVCC-safe, and the snapshot then shows it
/// empty.
/// </summary>
internal static class OnlineVerification
{
    /// <summary>The kinds of difference (a verification's) that logical decoding does not carry and the cutover does.</summary>
    private static readonly string[] CutoverCarries = ["sequence value", "large object"];

    /// <summary>
    /// With schema changes carried, the kinds the cutover's schema pass makes the source's (<see cref="SchemaObjects"/>,
    /// exactly at the switch): a difference of them while following is a change the application deployed since the
    /// copy, which the cutover carries, as is a table the source dropped.
    /// </summary>
    private static readonly string[] CutoverCarriesObjects = ["view", "materialized view", "index", "constraint", "function", "trigger", "sequence"];

    /// <summary>Verifications at new positions when a differing table was truncated under the last one.</summary>
    private const int Attempts = 3;

    public static async Task<VerificationResult> RunAsync(Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int jobs, IReporter reporter, CancellationToken cancellationToken) =>
        (await RunUnlessAsync(follower, source, target, slot, jobs, reporter, () => false, cancellationToken))!;

    /// <summary>As <see cref="RunAsync"/>, but a table waiting to be carried is waited for only until <paramref name="giveUp"/> says so (a cutover asked).</summary>
    /// <returns>The verification; null when it gave up before it began.</returns>
    public static async Task<VerificationResult?> RunUnlessAsync(Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int jobs, IReporter reporter, Func<bool> giveUp, CancellationToken cancellationToken)
    {
        // Unlogged tables are not in the WAL: the follow never sees their changes, and the cutover copies them
        // again with the source read-only, then compares them there.
        IReadOnlyList<string> unlogged;
        await using (var conn = await Db.OpenAsync(source, "source", cancellationToken))
        {
            unlogged = (await SourceSide.UnloggedTablesAsync(conn, cancellationToken)).Select(t => t.Name).ToList();
        }

        if (unlogged.Count > 0)
        {
            reporter.Info($"Left out of the verification while following: {unlogged.Count} unlogged {Sentences.Plural(unlogged.Count, "table")} ({Sentences.FirstFew(unlogged, 5)}), copied again and compared at the cutover.");
        }

        for (var attempt = 1; ; attempt++)
        {
            if (!await WaitForCarriesAsync(follower, reporter, giveUp, cancellationToken))
            {
                return null;
            }

            VerificationResult result;
            IReadOnlySet<string> rewritten;
            var carries = follower.Carries;
            try
            {
                (result, rewritten) = await AtOnePositionAsync(follower, source, target, slot, attempt, jobs, unlogged, reporter, giveUp, cancellationToken);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && giveUp())
            {
                reporter.Info("The cutover was asked while the verification's snapshot waited for transactions open on the source: the follow goes on to the cutover without it.");
                return null;
            }
            catch (PgRelocateException e) when (follower.CarriesSchemaChanges && attempt < Attempts && e.InnerException is Npgsql.PostgresException { SqlState: PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedTable })
            {
                // A column or table the snapshot still shows was dropped since: the catalog the query runs with is the newest.
                reporter.Info($"A schema change on the source raced the verification's snapshot ({e.Message}): verifying again at a new position.");
                continue;
            }

            var raced = result.Tables.Where(t => !t.Equal && rewritten.Contains(t.Name)).Select(t => t.Name).ToList();
            // A table the source made just before the snapshot reaches the target at the marker of its copy, after it:
            // missing there, or (a partition the target made ahead of its rows) present without them.
            var carried = follower.CarriedSince(carries);
            var carriedRaced = result.Tables.Where(t => !t.Equal && carried.Contains(t.Name)).Select(t => t.Name).ToList();
            var schemaRaced = follower.CarriesSchemaChanges && (result.SchemaDifferences.Count > 0 || carriedRaced.Count > 0);
            if ((raced.Count == 0 && !schemaRaced) || attempt == Attempts)
            {
                return result;
            }

            if (carriedRaced.Count > 0)
            {
                reporter.Info($"{string.Join(", ", carriedRaced)} reached the target after the verification's snapshot (copied at a marker after its position): verifying again at a new position.");
                continue;
            }

            if (schemaRaced)
            {
                reporter.Info($"The source's schema differs from the target's at the verification's snapshot ({Sentences.Counted(result.SchemaDifferences.Count, "difference")}): a schema change the follow carries after it. Verifying again at a new position.");
                continue;
            }

            reporter.Info($"The source truncated (or rewrote) {string.Join(", ", raced)} after the verification's snapshot, which then no longer shows its rows: verifying again at a new position.");
        }
    }

    /// <summary>
    /// While a table waits to be carried (the user must change something on the source, as the warning says), the
    /// comparison would only find it missing: the follow goes on, and the verification waits until it is carried.
    /// </summary>
    /// <returns>False when <paramref name="giveUp"/> said so first.</returns>
    private static async Task<bool> WaitForCarriesAsync(Follower follower, IReporter reporter, Func<bool> giveUp, CancellationToken cancellationToken)
    {
        // What the source made and the target lacks is carried first: its markers come before the snapshot's position.
        await follower.CarryNowAsync(cancellationToken);
        if (follower.WaitingToCarry.Count > 0)
        {
            reporter.Info($"The verification while following waits until {string.Join(", ", follower.WaitingToCarry)} can be carried to the target; the follow goes on.");
        }

        while (follower.WaitingToCarry.Count > 0)
        {
            var until = DateTime.UtcNow.AddSeconds(5);
            await follower.RunAsync(_ => DateTime.UtcNow >= until || giveUp(), cancellationToken);
            if (giveUp())
            {
                return false;
            }

            await follower.CarryNowAsync(cancellationToken);
        }

        return true;
    }

    /// <returns>The verification, and the tables ("schema.table") the source rewrote after its snapshot.</returns>
    private static async Task<(VerificationResult Result, IReadOnlySet<string> Rewritten)> AtOnePositionAsync(
        Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int attempt, int jobs, IReadOnlyList<string> unlogged, IReporter reporter, Func<bool> giveUp, CancellationToken cancellationToken)
    {
        // The exported snapshot stays importable while its connection is open and idle. Creating the slot waits
        // for the source's running transactions to end (a long one holds it up), so the follow goes on meanwhile
        // and pauses at the slot's position once it is known, without ending its session: there the target is
        // held in a snapshot of its own (REPEATABLE READ, pg_export_snapshot: no privilege needed), and the
        // comparison of the two snapshots runs while the follow goes on. Should the follow have taken a
        // transaction past that position already, the slot is taken again with the follow stopped.
        await using var replication = await Db.OpenReplicationAsync(source, "source", "pgrelocate online verify", cancellationToken);
        LogicalReplicationConnection? again = null;
        // Open to the method's end, as the first: a snapshot a slot exported is importable while its connection lives.
        await using var closeAgain = new WhenDone(() => again?.DisposeAsync() ?? ValueTask.CompletedTask);
        reporter.Info("Taking a snapshot of the source to verify the target while following: the apply pauses at its position for a moment, to hold the target as it is there.");
        // Creating it waits for every transaction open on the source: a cutover asked meanwhile cancels it.
        using var creation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var creating = CreateSlotAsync(replication, source, $"{slot}_verify{attempt}", creation.Token);
        var watching = CancelWhenAsync(creating, giveUp, creation);
        var marking = MarkAfterAsync(creating, source, cancellationToken);

        using var following = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        NpgsqlConnection? held = null;
        Task<VerificationResult>? verifying = null;
        VerificationResult result;

        // The slot the follow pauses for: the one being created, or the one taken again; a marker written after
        // it makes the pause exact (see PausePoint).
        PgOutputReplicationSlot? point = null;
        var marked = false;
        PgOutputReplicationSlot? Slot() => point ?? (creating.IsCompletedSuccessfully ? creating.Result : null);

        // While the marker is being written it counts as written: the follow must not pause on a quiet source
        // before it comes (it may come before its writer hears of its commit).
        PausePoint? Pause() => Slot() is { } known ? new PausePoint(known.ConsistentPoint, point is null ? marking is not { IsCompletedSuccessfully: true, Result: false } : marked) : null;

        async Task HoldAndCompareAsync(CancellationToken pausedToken)
        {
            var paused = Slot()!;
            reporter.Info($"Verifying while following: the apply paused at {paused.ConsistentPoint}, the position of a source snapshot.");
            if (held is not null)
            {
                // A reconnect brought the follow back to the pause: hold the target again.
                await held.DisposeAsync();
            }

            held = await Db.OpenAsync(target.WithApplicationName("pgrelocate online verify"), "target", pausedToken);
            await Db.ExecuteAsync(held, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", pausedToken);
            var targetSnapshot = await Db.ScalarAsync<string>(held, "SELECT pg_catalog.pg_export_snapshot()", pausedToken);
            follower.MarkPhase(OnlinePhases.Verify);
            verifying = Verifier.RunAsync(
                new VerifyOptions { Source = source, Target = target, Mode = VerifyMode.Checksums, SourceSnapshot = paused.SnapshotName, TargetSnapshot = targetSnapshot, Jobs = VerifyOptions.ForMigration(jobs, source, target), ExceptTables = unlogged },
                reporter,
                following.Token);
            // Once it is done, the target's snapshot is no longer read: a waiting TRUNCATE may go on.
            _ = verifying.ContinueWith(_ => released.TrySetResult(), TaskScheduler.Default);
        }

        // A TRUNCATE waits only for a comparison that runs: before the pause, the follow must go on to reach it.
        Task? Comparing() => verifying is null ? null : released.Task;

        bool Compared(FollowPoint _) => verifying is { IsCompleted: true } || creating.IsFaulted || creating.IsCanceled || marking.IsFaulted || marking.IsCanceled;

        try
        {
            await follower.RunAsync(Compared, following.Token, stopBefore: Pause, atPause: HoldAndCompareAsync, truncatesWaitFor: Comparing);
            var first = await creating;
            await marking;
            if (follower.PauseMissed)
            {
                reporter.Debug($"The follow had applied past the snapshot's position {first.ConsistentPoint} when it came: taking another with the follow stopped.");
                await replication.DisposeAsync();
                again = await Db.OpenReplicationAsync(source, "source", "pgrelocate online verify", cancellationToken);
                var taken = CreateSlotAsync(again, source, $"{slot}_verify{attempt}_again", cancellationToken);
                marked = await MarkAfterAsync(taken, source, cancellationToken);
                point = await taken;
                await follower.RunAsync(Compared, following.Token, stopBefore: Pause, atPause: HoldAndCompareAsync, truncatesWaitFor: Comparing);
            }

            result = await (verifying ?? throw new InvalidOperationException("The follow ended before it paused for the verification."));
        }
        finally
        {
            if (!creating.IsCompleted)
            {
                await creation.CancelAsync();
            }

            await watching;
            // A follow that stopped (a schema change, the slot endangering the source) stops the comparison too.
            await following.CancelAsync();
            if (verifying is not null)
            {
                try
                {
                    await verifying;
                }
                catch (Exception) when (following.IsCancellationRequested)
                {
                    // Its error, if it has one of its own, was thrown above.
                }
            }

            released.TrySetResult();
            if (held is not null)
            {
                await held.DisposeAsync();
            }

            follower.MarkPhase(OnlinePhases.Follow);
        }

        IReadOnlySet<string> rewritten = new HashSet<string>(StringComparer.Ordinal);
        if (result.Tables.Any(t => !t.Equal) && Slot()?.SnapshotName is { } snapshot)
        {
            await using var conn = await Db.OpenAsync(source, "source", cancellationToken);
            await Db.ExecuteAsync(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cancellationToken);
            await Db.ExecuteAsync(conn, $"SET TRANSACTION SNAPSHOT {Db.Literal(snapshot)}", cancellationToken);
            rewritten = (await Db.ListAsync(conn, OnlineSql.RewrittenTables, r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
        }

        // The target's own schema is the tool's: not a difference. Nor are sequences and large objects the
        // source changed since the copy: logical decoding does not carry them, and the cutover sets the
        // sequences and copies the large objects again.
        var atCutover = result.SchemaDifferences.Where(d => CutoverCarries.Contains(d.Kind)).ToList();
        if (atCutover.Count > 0)
        {
            reporter.Info($"{atCutover.Count} sequence values and large objects differ while following, as expected: the cutover carries them.");
        }

        var differences = result.SchemaDifferences.Where(d => !d.Name.Contains(OnlineNames.TargetSchema, StringComparison.Ordinal) && !CutoverCarries.Contains(d.Kind)).ToList();
        // A view's columns differ with it.
        var views = differences.Where(d => d.Kind is "view" or "materialized view").Select(d => d.Name + ".").ToList();
        // Only while every table's rows are equal: a table that differs beside them is most often one the source made
        // around the snapshot, whose copy comes after it, and the differences then say to verify again at a new position.
        var rowsEqual = result.Tables.All(t => t.Equal);
        bool ObjectAtCutover(SchemaDifference d) => follower.CarriesSchemaChanges && rowsEqual
            && (CutoverCarriesObjects.Contains(d.Kind) || d is { Kind: "table", Difference: DifferenceKind.ExtraOnTarget }
                || (d.Kind == "column" && views.Any(v => d.Name.StartsWith(v, StringComparison.Ordinal))));
        var objects = differences.Where(ObjectAtCutover).ToList();
        if (objects.Count > 0)
        {
            reporter.Info($"Schema objects differ while following ({Sentences.Counted(objects.Count, "difference")}: {Sentences.FirstFew(objects.OrderBy(d => d.Kind == "column").Select(d => $"{d.Kind} {d.Name}").ToList(), 3)}): changes made on the source since the copy, which the cutover carries.");
        }

        return (result with
        {
            SchemaDifferences = differences.Where(d => !ObjectAtCutover(d)).ToList(),
        }, rewritten);
    }

    /// <summary>A temporary slot (dropped with its connection) exporting a snapshot at its consistent point.</summary>
    private static async Task<PgOutputReplicationSlot> CreateSlotAsync(LogicalReplicationConnection replication, PgConnectionInfo source, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await replication.CreatePgOutputReplicationSlot(name, temporarySlot: true, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw Db.Describe(e, source, "source");
        }
    }

    /// <summary>Cancels <paramref name="creation"/> should <paramref name="giveUp"/> say so before the slot is created.</summary>
    private static async Task CancelWhenAsync(Task creating, Func<bool> giveUp, CancellationTokenSource creation)
    {
        while (!creating.IsCompleted)
        {
            if (giveUp())
            {
                await creation.CancelAsync();
                return;
            }

            await Task.WhenAny(creating, Task.Delay(TimeSpan.FromMilliseconds(250)));
        }
    }

    /// <summary>Once the slot is created, a marker after its position (see <see cref="PausePoint"/>); false when none can be written.</summary>
    private static async Task<bool> MarkAfterAsync(Task<PgOutputReplicationSlot> creating, PgConnectionInfo source, CancellationToken cancellationToken)
    {
        await creating;
        await using var conn = await Db.OpenAsync(source.WithApplicationName("pgrelocate online verify"), "source", cancellationToken);
        return await SourceSide.TryMarkAsync(conn, "verify", cancellationToken);
    }

    /// <summary>Runs an action when disposed.</summary>
    private sealed class WhenDone(Func<ValueTask> action) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => action();
    }
}

using Npgsql;
using NpgsqlTypes;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Online.Apply;

namespace PgRelocate.Online.Fallback;

/// <summary>
/// Carries the target's changes back into the old source after the switch: reads the queue
/// (<see cref="FallbackQueue"/>) in commit order and applies it through the forward apply's own lanes
/// (<see cref="ChangeApplier"/>, <see cref="ApplyLane"/>, <see cref="TargetWrites"/>), on connections to the old
/// source, which keeps the position and each table's in the tool's schema there (<see cref="TargetState"/>, under
/// <see cref="Slot"/>) in the same transactions as the rows. The queue's rows go once the old source holds them:
/// a kill at any point loses nothing (the rows stay until then) and applies nothing twice (the position skips them).
/// </summary>
internal sealed class FallbackFollower : IAsyncDisposable
{
    /// <summary>The way back's name for its position in the old source's record.</summary>
    public const string Slot = "fallback";

    private readonly NpgsqlConnection _target;
    private readonly List<NpgsqlConnection> _old;
    private readonly FallbackQueue _queue;
    private readonly ChangeApplier _applier;

    private readonly long _startChanges;
    private bool _disposed;
    private readonly long _startTransactions;

    private FallbackFollower(NpgsqlConnection target, List<NpgsqlConnection> old, ChangeApplier applier, long startChanges, long startTransactions)
    {
        _startChanges = startChanges;
        _startTransactions = startTransactions;
        _target = target;
        _old = old;
        _applier = applier;
        _queue = new FallbackQueue(target);
    }

    /// <summary>Changes applied to the old source by this follower.</summary>
    public long Changes => _applier.Changes;

    /// <summary>Changes and transactions applied to the old source by the way back, over all its runs.</summary>
    public long TotalChanges => _startChanges + _applier.Changes;

    public long TotalTransactions => _startTransactions + _applier.Transactions;

    /// <summary>True when the last round waited in vain for a transaction in progress on the target (a long one holds the way back).</summary>
    public bool Waiting { get; private set; }

    /// <summary>
    /// The last round began with no transaction in progress on the target at all: it applied everything committed
    /// there, and on a target where nothing new can write (read-only, its sessions ended) it was the last.
    /// </summary>
    public bool Quiet { get; private set; }

    /// <summary>The tables new on the target that the last round could not capture, each with why (tried again every round).</summary>
    public IReadOnlyList<string> Uncaptured { get; private set; } = [];

    /// <summary>Every captured transaction whose last write is below this is applied to the old source.</summary>
    public long Position => (long)(ulong)_applier.Position;

    /// <summary>
    /// Opens the target's session and the old source's apply sessions (<paramref name="lanes"/>), each writable
    /// whatever the database's default, and the applier from the position the old source stores.
    /// </summary>
    /// <exception cref="PgRelocateException">The old source has no position: the way back was removed.</exception>
    /// <param name="migrationId">The migration's id: the target's session is named as its own (<see cref="Migration.HeldMigrationLock.ApplicationName(string, string)"/>), which a rollback's ending of the target's sessions leaves be.</param>
    public static async Task<FallbackFollower> OpenAsync(PgConnectionInfo oldSource, PgConnectionInfo target, int lanes, string migrationId, CancellationToken cancellationToken)
    {
        // The target's session and the lanes' sessions on the old source opened side by side: a rollback waits for them.
        var sessions = await Db.OpenTogetherAsync([
            () => Db.OpenAsync(target, "target", new SessionOptions { ApplicationName = Migration.HeldMigrationLock.ApplicationName(migrationId, "way back") }, "SET default_transaction_read_only = off; SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0", cancellationToken),
            .. Enumerable.Range(0, Math.Max(1, lanes)).Select<int, Func<Task<NpgsqlConnection>>>(_ => () =>
                Db.OpenAsync(oldSource, FollowSides.Back.Target, new SessionOptions { ApplicationName = "pgrelocate way back apply", AutoPrepare = 256 }, TargetWrites.SessionSettings, cancellationToken)),
        ]);
        var targetConn = sessions[0];
        var old = sessions.Skip(1).ToList();
        try
        {
            var first = old[0];
            var stored = await TargetState.ReadAsync(first, Slot, cancellationToken)
                ?? throw new PgRelocateException($"The old source has no position of the way back (its {OnlineNames.TargetSchema} schema is gone): the way back was ended; the target is the database in use.");
            await TargetState.DisableAsync(first, cancellationToken);
            // The way back's changes come from the target: its statistics say which tables it writes most.
            var routes = await ApplyRoutes.ReadAsync(first, targetConn, old.Count, cancellationToken);
            var positions = await TargetState.TablePositionsAsync(first, Slot, cancellationToken);
            var applier = new ChangeApplier([.. old.Select(c => new ApplyLane(c, Slot, positions, sides: FollowSides.Back))], Slot, stored.Lsn, routes);
            return new FallbackFollower(targetConn, old, applier, stored.Changes, stored.Transactions);
        }
        catch
        {
            foreach (var conn in sessions)
            {
                await conn.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>
    /// One round: the tables created on the target since the last captured (<see cref="FallbackNewTables"/>), then
    /// every transaction over by now applied to the old source in commit order, committed there, then
    /// its rows removed from the queue. Returns the changes applied: none while a transaction on the target that
    /// was in progress at the round's start still is after a second (<see cref="Waiting"/> says so).
    /// </summary>
    public async Task<long> RoundAsync(CancellationToken cancellationToken)
    {
        Uncaptured = await FallbackNewTables.CaptureAsync(_target, cancellationToken);
        var horizon = await _queue.HorizonAsync(TimeSpan.FromSeconds(1), cancellationToken);
        Waiting = horizon is null;
        Quiet = horizon is { Quiet: true };
        if (horizon is not { Upto: var upto })
        {
            return 0;
        }

        var before = _applier.Changes;
        await foreach (var change in _queue.ReadAsync(Position, upto, cancellationToken))
        {
            await _applier.ApplyAsync(change, cancellationToken);
            if (change is CommitChange && _applier.GroupIsFull)
            {
                await _applier.CommitAsync(cancellationToken);
            }
        }

        await _applier.CommitAsync(cancellationToken);
        if (_applier.Changes > before)
        {
            Migration.FaultInjection.At(Steps.FallbackStep.StepName, "applied");
        }

        await _queue.DeleteAppliedAsync(Position, cancellationToken);
        return _applier.Changes - before;
    }

    /// <summary>What the queue holds on disk and how old its oldest change is (0 when empty).</summary>
    public async Task<(long Bytes, double LagSeconds)> QueueAsync(CancellationToken cancellationToken) =>
        await Db.SingleAsync(
            _target,
            $"{FallbackCapture.QueueSizeSql}, coalesce(extract(epoch FROM pg_catalog.now() - (SELECT min(at) FROM {OnlineNames.TargetSchema}.fallback_queue)), 0)::float8",
            r => (r.GetInt64(0), r.GetDouble(1)),
            cancellationToken);

    /// <summary>The tables the way back changed on the old source, over all its runs (quoted, qualified names).</summary>
    public Task<IReadOnlyList<string>> ChangedTablesAsync(CancellationToken cancellationToken) => TargetState.ChangedTablesAsync(_old[0], cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _applier.StopAsync();
        foreach (var conn in _old)
        {
            await conn.DisposeAsync();
        }

        await _target.DisposeAsync();
    }

    /// <summary>
    /// Creates the old source's record of the way back (its position at the start, under <paramref name="slot"/>:
    /// <see cref="Slot"/>, or the name of the way back's replication slot), unless a run before created it.
    /// </summary>
    public static async Task PrepareOldSourceAsync(NpgsqlConnection oldSource, string slot, CancellationToken cancellationToken)
    {
        // Writable whatever the database's default, and whether a run before made the record, in one round trip.
        bool there;
        await using (var batch = new NpgsqlBatch(oldSource) { BatchCommands = { new("SET default_transaction_read_only = off"), new($"SELECT pg_catalog.to_regclass('{OnlineNames.TargetSchema}.position') IS NOT NULL") } })
        {
            there = (bool)(await batch.ExecuteScalarAsync(cancellationToken))!;
        }

        if (!there || await TargetState.ReadAsync(oldSource, slot, cancellationToken) is null)
        {
            await TargetState.CreateAsync(oldSource, slot, new NpgsqlLogSequenceNumber(0), cancellationToken);
        }
    }
}

using Npgsql;
using NpgsqlTypes;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Online;

/// <summary>
/// Applies changes to the target in the source's commit order, as an ordinary database owner, on several
/// connections at once. Each table belongs to one <see cref="ApplyLane"/> (a table, the tables its foreign keys
/// tie it to and its partitions always share one), which applies its changes in commit order; lanes work side
/// by side, so the result is the same as applying in commit order on one connection. Consecutive source
/// transactions are grouped: at a transaction boundary every lane commits, each with its tables' positions,
/// then the position of the whole follow is stored. A crash between two lanes' commits loses nothing and
/// repeats nothing: a table skips the changes its own position covers. How rows are written (batches, COPY
/// for runs of INSERTs, hot rows' UPDATEs applied once) is <see cref="TargetWrites"/>'s.
/// <para>
/// A large transaction the source streams before it commits (<see cref="StreamedChange"/>) is applied as it
/// arrives, on a lane and connection of its own whose target transaction stays open until the source's commit
/// comes: the target is then only as far behind as the source's commit, not the whole transaction. It cannot
/// conflict with the transactions the other lanes apply meanwhile: those committed on the source while it ran,
/// so none of them touched a row it had changed (the source's row locks), and the open group is committed
/// before each of its changes goes out, so it never waits for one of theirs. At its commit, its changes, its
/// tables' positions and the follow's position commit together. One such transaction at a time; another, and
/// any that truncates or rolls back a subtransaction, is applied from <see cref="TransactionSpool"/> at its
/// commit instead (every streamed change is kept there too).
/// </para>
/// </summary>
internal sealed class ChangeApplier
{
    private readonly string _slot;
    private readonly ApplyLane[] _lanes;
    private readonly ApplyRoutes _routes;
    private readonly HashSet<int> _touched = [];
    private bool _skipping;
    private bool _inSourceTransaction;
    private ulong _commitLsn;
    private long _groupTransactions;
    private ulong _groupEnd;
    private DateTime _groupStarted;
    private bool _groupOpen;
    private long _groupChanges;
    private long _committedChanges;
    private string? _marker;
    private string? _groupMarker;
    private readonly IReadOnlyDictionary<string, ulong> _stored;
    private readonly Func<CancellationToken, Task<NpgsqlConnection>>? _openStreamed;
    private readonly HashSet<uint> _spoolOnly = [];
    private readonly HashSet<string> _streamedTables = new(StringComparer.Ordinal);
    private readonly ulong _from;
    private Streamed? _streamed;
    private NpgsqlConnection? _streamedConnection;

    private ChangeApplier(IReadOnlyList<NpgsqlConnection> connections, string slot, NpgsqlLogSequenceNumber position, ApplyRoutes routes, IReadOnlyDictionary<string, ulong> stored, Func<CancellationToken, Task<NpgsqlConnection>>? openStreamed)
    {
        _slot = slot;
        _routes = routes;
        _stored = stored;
        _openStreamed = openStreamed;
        _from = (ulong)position;
        Position = position;
        _lanes = connections.Select(c => new ApplyLane(c, slot, stored)).ToArray();
    }

    /// <summary>An applier over these connections (one lane each), from the stored position.</summary>
    /// <param name="openStreamed">Opens the connection a streamed transaction is applied on as it arrives; null: at its commit, from the spool.</param>
    public static async Task<ChangeApplier> StartAsync(
        IReadOnlyList<NpgsqlConnection> connections, string slot, NpgsqlLogSequenceNumber position, CancellationToken cancellationToken, Func<CancellationToken, Task<NpgsqlConnection>>? openStreamed = null)
    {
        var routes = await ApplyRoutes.ReadAsync(connections[0], connections.Count, cancellationToken);
        var stored = await TargetState.TablePositionsAsync(connections[0], slot, cancellationToken);
        return new ChangeApplier(connections, slot, position, routes, stored, openStreamed);
    }

    /// <summary>The streamed transaction being applied as it arrives, on its lane.</summary>
    private sealed class Streamed(uint xid, ApplyLane lane)
    {
        public uint Xid { get; } = xid;

        public ApplyLane Lane { get; } = lane;

        public long Changes { get; set; }
    }

    /// <summary>Every source transaction committed before this is applied and committed on the target.</summary>
    public NpgsqlLogSequenceNumber Position { get; private set; }

    /// <summary>Row changes and source transactions committed on the target by this applier.</summary>
    public long Changes => _committedChanges;

    public long Transactions { get; private set; }

    /// <summary>Row changes applied in the open group and the open streamed transaction, not committed yet (a large transaction shows progress through it).</summary>
    public long Pending => _groupChanges + (_streamed?.Changes ?? 0);

    /// <summary>The source commit time of the transaction being applied, or null between transactions.</summary>
    public DateTime? ApplyingCommitTime { get; private set; }

    /// <summary>The source commit time of the last transaction taken from the reader (applied or skipped).</summary>
    public DateTime? LastCommitTime { get; private set; }

    /// <summary>
    /// How far the target is behind the source, in time: the age of the source commit being applied or, between
    /// transactions, of the last one; null before any. (Only "caught up" can say the source has nothing newer.)
    /// </summary>
    public double? LagSeconds(DateTime now) => (ApplyingCommitTime ?? LastCommitTime) is { } t ? Math.Max(0, (now - t).TotalSeconds) : null;

    /// <summary>Tables changed since the follow started (quoted, qualified names), for the final check at cutover.</summary>
    public IEnumerable<string> ChangedTables => _lanes.SelectMany(l => l.ChangedTables).Concat(_streamedTables).Distinct(StringComparer.Ordinal);

    /// <summary>The last marker (see <see cref="MarkerChange"/>) whose transaction is committed on the target.</summary>
    public string? CommittedMarker { get; private set; }

    /// <summary>True when no source transaction is half applied and no group waits to commit.</summary>
    public bool Idle => !_inSourceTransaction && !_groupOpen;

    /// <summary>True when a group of whole source transactions waits to commit.</summary>
    public bool HasCommittable => !_inSourceTransaction && _groupTransactions > 0;

    /// <summary>Whether the open group is big or old enough to commit at the next transaction boundary.</summary>
    public bool GroupIsFull => HasCommittable && (Pending >= 20_000 || DateTime.UtcNow - _groupStarted > TimeSpan.FromMilliseconds(500));

    public async Task ApplyAsync(Change change, CancellationToken cancellationToken)
    {
        switch (change)
        {
            case BeginChange b:
                _inSourceTransaction = true;
                _skipping = b.CommitLsn < (ulong)Position;
                _commitLsn = b.CommitLsn;
                ApplyingCommitTime = b.CommitTime;
                _touched.Clear();
                return;
            case MarkerChange m:
                _marker = m.Content;
                return;
            case CommitChange c:
                _inSourceTransaction = false;
                if (!_skipping)
                {
                    _groupMarker = _marker ?? _groupMarker;
                }

                _marker = null;
                ApplyingCommitTime = null;
                LastCommitTime = c.CommitTime;
                if (!_skipping)
                {
                    foreach (var lane in _touched)
                    {
                        await _lanes[lane].EndAsync(c.EndLsn, cancellationToken);
                    }

                    if (!_groupOpen)
                    {
                        _groupOpen = true;
                        _groupStarted = DateTime.UtcNow;
                    }

                    _groupTransactions++;
                    _groupEnd = c.EndLsn;
                }

                return;
        }

        if (_skipping)
        {
            return;
        }

        if (change is TruncateChange truncate)
        {
            // One TRUNCATE per lane, of its tables (a CASCADE's tables are tied by foreign keys: one lane).
            foreach (var group in truncate.Relations.GroupBy(r => _routes.LaneOf(r)))
            {
                await SendAsync(group.Key, truncate with { Relations = group.ToList() }, cancellationToken);
            }

            return;
        }

        var relation = change switch
        {
            InsertChange i => i.Relation,
            UpdateChange u => u.Relation,
            DeleteChange d => d.Relation,
            _ => null,
        };
        if (relation is not null)
        {
            await SendAsync(_routes.LaneOf(relation), change, cancellationToken);
        }
    }

    /// <summary>
    /// Commits the group of whole source transactions: every lane with changes commits, then the follow's
    /// position is stored; returns the new position, or null when there was nothing to commit.
    /// </summary>
    public async Task<NpgsqlLogSequenceNumber?> CommitAsync(CancellationToken cancellationToken)
    {
        if (!HasCommittable)
        {
            return null;
        }

        var open = _lanes.Where(l => l.HasOpenGroup).ToList();
        await Task.WhenAll(open.Select(l => l.CommitAsync(cancellationToken)));
        if (open.Count > 0)
        {
            Migration.FaultInjection.At("follow", "lanes-committed");
        }

        // Only once every lane has committed: a transaction before this position is skipped whole on a restart.
        var end = new NpgsqlLogSequenceNumber(_groupEnd);
        await _lanes[0].RunAsync(TargetState.Advance(_slot, end, _groupChanges, _groupTransactions), cancellationToken);
        Position = end;
        _committedChanges += _groupChanges;
        _groupChanges = 0;
        Transactions += _groupTransactions;
        _groupTransactions = 0;
        CommittedMarker = _groupMarker ?? CommittedMarker;
        _groupMarker = null;
        _groupOpen = false;
        return end;
    }

    /// <summary>
    /// Applies a change of a streamed transaction as it arrives, when that transaction is (or can become) the
    /// one applied so; otherwise it waits in the spool for its commit. Returns the position committed first, if
    /// the open group had to be (to confirm to the source), else null.
    /// </summary>
    public async Task<NpgsqlLogSequenceNumber?> ApplyStreamedAsync(StreamedChange change, CancellationToken cancellationToken)
    {
        if (_openStreamed is null || _spoolOnly.Contains(change.Xid))
        {
            return null;
        }

        // Only from its first change: one whose start the applier did not take stays in the spool to its end. Nor
        // one that began before this session's start: it may have been applied before a restart (the source then
        // decodes it again, may stream it, and drops it at its end), which only the spool's replay can tell by its
        // commit position.
        if ((_streamed is { } other && other.Xid != change.Xid) || (_streamed is null && change.Lsn < _from))
        {
            _spoolOnly.Add(change.Xid);
            return null;
        }

        if (change.Change is TruncateChange)
        {
            // Its lock would hold back the verification's reads of the target until the commit: from the spool, where
            // the follow makes a TRUNCATE wait for the verification.
            await GiveUpStreamedAsync(spoolOnly: false);
            _spoolOnly.Add(change.Xid);
            return null;
        }

        if (change.Change is not (InsertChange or UpdateChange or DeleteChange))
        {
            return null;
        }

        // Whatever the other lanes hold committed first: its changes can then never wait for theirs.
        var committed = await CommitAsync(cancellationToken);
        if (_streamed is null)
        {
            _streamedConnection ??= await _openStreamed(cancellationToken);
            // Its commit position is not known yet, but it began after this session's start: nothing of it was applied
            // before, so no stored position skips its changes.
            var lane = new ApplyLane(_streamedConnection, _slot, _stored, bookkeepingAtCommit: true);
            _streamed = new Streamed(change.Xid, lane);
            await lane.BeginAsync(ulong.MaxValue, cancellationToken);
        }

        _streamed.Changes++;
        try
        {
            await _streamed.Lane.ApplyAsync(change.Change, cancellationToken);
        }
        catch (Exception e) when (Refused(e))
        {
            // The spool has it all, and applies it at the commit, where an error of its own stops the follow.
            await GiveUpStreamedAsync(spoolOnly: true);
        }

        return committed;
    }

    /// <summary>A streamed transaction or one of its subtransactions rolled back.</summary>
    public async Task AbortStreamedAsync(StreamAbortChange abort)
    {
        var subtransaction = abort.SubXid != abort.Xid;
        if (!subtransaction)
        {
            _spoolOnly.Remove(abort.Xid);
        }

        if (_streamed?.Xid == abort.Xid)
        {
            // A subtransaction's changes are dropped by the spool; the rest of its transaction goes from there too.
            await GiveUpStreamedAsync(spoolOnly: subtransaction);
        }
    }

    /// <summary>
    /// Commits a streamed transaction applied as it arrived, after the open group, with its tables' positions and
    /// the follow's; returns the new position, or null when it was not applied so (replay it from the spool).
    /// </summary>
    public async Task<NpgsqlLogSequenceNumber?> CommitStreamedAsync(StreamCommitChange commit, CancellationToken cancellationToken)
    {
        _spoolOnly.Remove(commit.Xid);
        if (_streamed is not { } streamed || streamed.Xid != commit.Xid)
        {
            return null;
        }

        await CommitAsync(cancellationToken);
        var end = new NpgsqlLogSequenceNumber(commit.EndLsn);
        try
        {
            await streamed.Lane.EndAsync(commit.EndLsn, cancellationToken);
            await streamed.Lane.CommitAsync(cancellationToken, TargetState.Advance(_slot, end, streamed.Changes, 1));
        }
        catch (Exception e) when (Refused(e))
        {
            // Not committed: replayed from the spool, where an error of its own stops the follow.
            await GiveUpStreamedAsync(spoolOnly: false);
            return null;
        }

        _streamed = null;
        await streamed.Lane.StopAsync();
        Position = end;
        _committedChanges += streamed.Changes;
        Transactions++;
        LastCommitTime = commit.CommitTime;
        _streamedTables.UnionWith(streamed.Lane.ChangedTables);
        return end;
    }

    /// <summary>
    /// The target refused a statement or the commit of the streamed transaction applied as it arrived (so nothing
    /// of it is committed); a lost connection is not a refusal: the session starts again, from what is stored.
    /// </summary>
    private static bool Refused(Exception e) => e is PgRelocateException { IsTransient: false } || (e is PostgresException p && !Follower.IsTransient(p));

    /// <summary>Rolls back the streamed transaction applied as it arrived: it is applied from the spool at its commit.</summary>
    private async Task GiveUpStreamedAsync(bool spoolOnly)
    {
        if (_streamed is not { } streamed)
        {
            return;
        }

        _streamed = null;
        if (spoolOnly)
        {
            _spoolOnly.Add(streamed.Xid);
        }

        await streamed.Lane.StopAsync();
        // Closing the connection rolls back its transaction, which the stopped lane left open.
        await CloseStreamedConnectionAsync();
    }

    private async Task CloseStreamedConnectionAsync()
    {
        if (_streamedConnection is { } connection)
        {
            _streamedConnection = null;
            await connection.DisposeAsync();
        }
    }

    /// <summary>Stops every lane, rolling back what is not committed.</summary>
    public async Task StopAsync()
    {
        foreach (var lane in _lanes)
        {
            await lane.StopAsync();
        }

        await GiveUpStreamedAsync(spoolOnly: false);
        await CloseStreamedConnectionAsync();
    }

    private async Task SendAsync(int lane, Change change, CancellationToken cancellationToken)
    {
        _groupChanges++;
        if (_touched.Add(lane))
        {
            await _lanes[lane].BeginAsync(_commitLsn, cancellationToken);
        }

        await _lanes[lane].ApplyAsync(change, cancellationToken);
    }
}

using Npgsql;
using NpgsqlTypes;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Online.Apply;

/// <summary>
/// Applies changes to the target in the source's commit order, as an ordinary database owner, on several
/// connections at once. Each table belongs to one <see cref="ApplyLane"/> (a table, the tables its foreign keys
/// tie it to and its partitions always share one), which applies its changes in commit order; lanes work side
/// by side, so the result is the same as applying in commit order on one connection. Consecutive source
/// transactions are grouped: at a transaction boundary every lane commits, each with its tables' positions,
/// then the position of the whole follow is stored; on a busy source the next group's changes are handed to the
/// lanes meanwhile (<see cref="CommitInBackgroundAsync"/>). A crash between two lanes' commits loses nothing and
/// repeats nothing: a table skips the changes its own position covers. How rows are written (batches, COPY
/// for runs of INSERTs, hot rows' UPDATEs applied once) is <see cref="TargetWrites"/>'s.
/// <para>
/// A large transaction the source streams before it commits is <see cref="StreamedTransactions"/>'s: it commits
/// the open group through <see cref="CommitAsync"/> before each change it applies as it arrives, and reports such
/// a transaction's commit with <see cref="Committed"/>.
/// </para>
/// </summary>
internal sealed class ChangeApplier
{
    private static readonly object Seen = new();
    private readonly string _slot;
    private readonly IApplyLane[] _lanes;
    private readonly ApplyRoutes _routes;
    private readonly HashSet<int> _touched = [];
    private readonly HashSet<string> _streamedTables = new(StringComparer.Ordinal);
    private readonly SchemaCarry? _carry;

    /// <summary>
    /// The stream's descriptions already looked at for tables to carry, held only as long as the stream holds them:
    /// the stream describes a table again after each VACUUM and ANALYZE of it, and a set of every description kept
    /// one for each of those for the whole follow. Each description is looked at once, even one met again after a
    /// newer (a streamed transaction's, replayed at its commit).
    /// </summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<SourceRelation, object> _seen = new();

    private readonly List<string> _carriedFiles = [];
    private readonly List<string> _groupCarriedFiles = [];
    private readonly HashSet<uint> _awaitingCopy = [];
    private readonly HashSet<SourceRelation> _superseded = new(ReferenceEqualityComparer.Instance);
    private readonly List<string> _loaded = [];
    private readonly List<string> _groupLoaded = [];
    private readonly HashSet<string> _loadedHere = new(StringComparer.Ordinal);
    private bool _skipping;
    private bool _inSourceTransaction;
    private ulong _commitLsn;
    private long _groupTransactions;
    private ulong _groupEnd;
    private DateTime _groupStarted;
    private DateTime? _groupFirstCommit;
    private bool _groupOpen;
    private long _groupChanges;
    private long _committedChanges;
    private string? _marker;
    private string? _groupMarker;
    private StartedGroup? _started;

    /// <summary>An applier over these lanes (the first also stores the follow's position), from a stored position.</summary>
    /// <param name="carry">Carries the source's new tables and partitions (see <see cref="SchemaCarry"/>); null: a table the target lacks stops the apply.</param>
    internal ChangeApplier(IReadOnlyList<IApplyLane> lanes, string slot, NpgsqlLogSequenceNumber position, ApplyRoutes routes, SchemaCarry? carry = null)
    {
        _slot = slot;
        _carry = carry;
        _routes = routes;
        Position = position;
        _lanes = [.. lanes];
    }

    /// <summary>Every source transaction committed before this is applied and committed on the target.</summary>
    public NpgsqlLogSequenceNumber Position { get; private set; }

    /// <summary>Row changes and source transactions committed on the target by this applier.</summary>
    public long Changes => _committedChanges;

    public long Transactions { get; private set; }

    /// <summary>Row changes applied in the open group, not committed yet.</summary>
    public long Pending => _groupChanges;

    /// <summary>The source commit time of the transaction being applied, or null between transactions.</summary>
    public DateTime? ApplyingCommitTime { get; private set; }

    /// <summary>The source commit time of the last transaction taken from the reader (applied or skipped).</summary>
    public DateTime? LastCommitTime { get; private set; }

    /// <summary>
    /// How far the target is behind the source, in time: the age of the oldest source transaction handed to the lanes
    /// and not committed on the target yet (<see cref="OldestUncommitted"/>) or, when all are, of the last one taken;
    /// null before any. (Only "caught up" can say the source has nothing newer.) Not the age of the one handed on: 50 ms
    /// from the target the lanes held 15,000 changes while that read 0.09 s, which the switch then applied in its downtime.
    /// </summary>
    public double? LagSeconds(DateTime now) => (OldestUncommitted ?? LastCommitTime) is { } t ? Math.Max(0, (now - t).TotalSeconds) : null;

    /// <summary>
    /// The source commit time of the oldest transaction handed to the lanes whose commit on the target is not done:
    /// the first of the group committing in the background, else of the open group, else the one being handed on;
    /// null when everything handed on is committed.
    /// </summary>
    private DateTime? OldestUncommitted =>
        (_started is { Stored.IsCompleted: false } started ? started.FirstCommitTime : null)
        ?? (_groupOpen ? _groupFirstCommit : null)
        ?? ApplyingCommitTime;

    /// <summary>How many of the stream's descriptions the applier holds as looked at (see <see cref="_seen"/>).</summary>
    internal int DescriptionsHeld => _seen.Count();

    /// <summary>Tables changed since the follow started (quoted, qualified names), for the final check at cutover.</summary>
    public IReadOnlyCollection<string> ChangedTables => [.. _lanes.SelectMany(l => l.ChangedTables).Concat(_streamedTables).Distinct(StringComparer.Ordinal)];

    /// <summary>The last marker (see <see cref="MarkerChange"/>) whose transaction is committed on the target.</summary>
    public string? CommittedMarker { get; private set; }

    /// <summary>True when no source transaction is half applied and no group waits to commit or is committing.</summary>
    public bool Idle => !_inSourceTransaction && !_groupOpen && _started is null;

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
            case MarkerChange m when SchemaCarry.IsCarry(m.Content):
                if (!_skipping && _carry is not null)
                {
                    await ApplyCarriedAsync(_carry.Open(m.Content), cancellationToken);
                }

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
                        _groupFirstCommit = c.CommitTime;
                    }

                    _groupTransactions++;
                    _groupEnd = c.EndLsn;
                    _groupCarriedFiles.AddRange(_carriedFiles);
                    _groupLoaded.AddRange(_loaded);
                }

                _carriedFiles.Clear();
                _loaded.Clear();
                return;
        }

        if (_skipping)
        {
            return;
        }

        if (_carry is not null)
        {
            await CarryNewAsync(change, cancellationToken);
            if (change is TruncateChange { Relations: var truncated } t0 && truncated.Any(LeftOut))
            {
                change = t0 with { Relations = [.. truncated.Where(r => !LeftOut(r))] };
            }
            else if (RelationOf(change) is { } r0 && LeftOut(r0))
            {
                // In the table's copy, loaded at its marker; or applied before the table was renamed on the target.
                return;
            }
        }

        if (change is TableDefinitionChange definition)
        {
            // The way back's: a table created on the target after the switch, at its place in the queue.
            await DefineAsync(definition, cancellationToken);
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

        if (RelationOf(change) is { } relation)
        {
            await SendAsync(_routes.LaneOf(relation), change, cancellationToken);
        }
    }

    /// <summary>
    /// Commits the group of whole source transactions: every lane with changes commits, then the follow's
    /// position is stored; returns the new position, or null when there was nothing to commit. A group whose
    /// commit <see cref="CommitInBackgroundAsync"/> started is waited for first.
    /// </summary>
    public async Task<NpgsqlLogSequenceNumber?> CommitAsync(CancellationToken cancellationToken)
    {
        var settled = await SettleAsync();
        if (!HasCommittable)
        {
            return settled;
        }

        _started = await StartAsync(cancellationToken);
        return await SettleAsync();
    }

    /// <summary>
    /// Starts committing the group of whole source transactions and returns without waiting for it: the lanes commit
    /// while the caller hands on the next group's changes, which the lanes' queues take meanwhile. A busy source's
    /// follow otherwise stood still for every commit (nearly half the time it took to catch up at pgbench scale 150).
    /// One group commits at a time: the one started before this is waited for first.
    /// </summary>
    /// <returns>The position of the group started before this one, now stored; null when there was none.</returns>
    public async Task<NpgsqlLogSequenceNumber?> CommitInBackgroundAsync(CancellationToken cancellationToken)
    {
        var settled = await SettleAsync();
        if (HasCommittable)
        {
            _started = await StartAsync(cancellationToken);
        }

        return settled;
    }

    /// <summary>Starts the open group's commit (see <see cref="StartedGroup.CommitAsync"/>), and opens the next.</summary>
    private async Task<StartedGroup> StartAsync(CancellationToken cancellationToken)
    {
        var end = new NpgsqlLogSequenceNumber(_groupEnd);
        var stored = await StartedGroup.CommitAsync(_lanes, TargetState.Advance(_slot, end, _groupChanges, _groupTransactions), cancellationToken);
        var group = new StartedGroup(stored, end, _groupChanges, _groupTransactions, _groupMarker, [.. _groupCarriedFiles], [.. _groupLoaded], _groupFirstCommit);
        _groupChanges = 0;
        _groupTransactions = 0;
        _groupCarriedFiles.Clear();
        _groupLoaded.Clear();
        _groupMarker = null;
        _groupFirstCommit = null;
        _groupOpen = false;
        return group;
    }

    /// <summary>Waits for the group whose commit was started, if any, and counts it committed; returns its position.</summary>
    private async Task<NpgsqlLogSequenceNumber?> SettleAsync()
    {
        if (_started is not { } group)
        {
            return null;
        }

        _started = null;
        await group.Stored;
        Position = group.End;
        _committedChanges += group.Changes;
        Transactions += group.Transactions;
        CommittedMarker = group.Marker ?? CommittedMarker;
        foreach (var file in group.CarriedFiles)
        {
            // Applied and committed: the stream never sends its marker again.
            File.Delete(file);
        }

        _carry?.Loaded(group.Loaded);
        return group.End;
    }

    /// <summary>
    /// A streamed transaction applied as it arrived was committed on the target, after the open group, with the
    /// follow's position (see <see cref="StreamedTransactions"/>): the position moves past it.
    /// </summary>
    public void Committed(NpgsqlLogSequenceNumber end, long changes, DateTime commitTime, IEnumerable<string> tables)
    {
        Position = end;
        _committedChanges += changes;
        Transactions++;
        LastCommitTime = commitTime;
        _streamedTables.UnionWith(tables);
    }

    /// <summary>Stops every lane, rolling back what is not committed.</summary>
    public async Task StopAsync()
    {
        // A group still committing is rolled back or committed with its lane: the follow goes on from the stored position.
        _started?.Stored.ContinueWith(t => t.Exception, TaskScheduler.Default);
        _started = null;
        foreach (var lane in _lanes)
        {
            await lane.StopAsync();
        }
    }

    private static SourceRelation? RelationOf(Change change) => change switch
    {
        InsertChange i => i.Relation,
        UpdateChange u => u.Relation,
        DeleteChange d => d.Relation,
        _ => null,
    };

    /// <summary>
    /// A table the change names that the target lacks (a partition made on the source while following): created in
    /// its lane before the change, tied to its parent's lane, then copied at a marker of its own, where its rows are
    /// replaced by the source's (rows it held before it was published, when it was attached, arrive so).
    /// </summary>
    private async Task CarryNewAsync(Change change, CancellationToken cancellationToken)
    {
        IEnumerable<SourceRelation> relations = change switch
        {
            InsertChange i => [i.Relation],
            UpdateChange u => [u.Relation],
            DeleteChange d => [d.Relation],
            TruncateChange t => t.Relations,
            _ => [],
        };
        foreach (var relation in relations)
        {
            if (!_seen.TryAdd(relation, Seen))
            {
                continue;
            }

            if (_carry!.NeedsDefinition(relation))
            {
                if (_carry.Superseded(relation, _commitLsn))
                {
                    _superseded.Add(relation);
                    continue;
                }

                var chain = await _carry.DefineAsync(relation, cancellationToken);
                foreach (var table in chain)
                {
                    await DefineAsync(table, cancellationToken);
                }

                if (chain[^1].RenamedFrom is null)
                {
                    await _carry.CarryAsync([Db.Qualified(relation.Schema, relation.Name)], cancellationToken);
                }
            }

            if (_carry.Copies.Awaiting(Db.Qualified(relation.Schema, relation.Name), relation.Id) && !_loadedHere.Contains(Db.Qualified(relation.Schema, relation.Name)))
            {
                _awaitingCopy.Add(relation.Id);
            }
        }
    }

    /// <summary>A change the apply leaves out: its table's copy waits for its marker, or the target's table was renamed after it (see <see cref="SchemaCarry.Superseded"/>).</summary>
    private bool LeftOut(SourceRelation relation) => _awaitingCopy.Contains(relation.Id) || _superseded.Contains(relation);

    /// <summary>The tables a marker carried: created where the target lacks them, then the copied ones emptied and loaded, in the marker's place.</summary>
    private async Task ApplyCarriedAsync(CarriedFile carried, CancellationToken cancellationToken)
    {
        // The renames as the target stands now (the stream may have renamed a table since the look wrote them),
        // together: a table renamed away from a name and the new table given it (the file's order renames first).
        var tables = carried.Tables.Select(_carry!.RenamedAsNow).ToList();
        _carry.Defined([.. tables.Select(t => t.Relation)]);
        foreach (var table in tables)
        {
            await DefineAsync(new TableDefinitionChange(table.Relation, table.Qualified, table.Statements, table.Ties), cancellationToken);
        }

        var copied = carried.Copied;
        if (copied.Count > 0)
        {
            foreach (var group in copied.GroupBy(t => _routes.LaneOf(t.Relation)))
            {
                await SendAsync(group.Key, new TruncateChange([.. group.Select(t => t.Relation)], false, false), cancellationToken);
            }

            foreach (var (table, row) in carried.Rows())
            {
                await SendAsync(_routes.LaneOf(table.Relation), new InsertChange(table.Relation, row), cancellationToken);
            }

            foreach (var table in copied)
            {
                // From here on the stream's changes to it apply as any other's.
                _awaitingCopy.Remove(table.Relation.Id);
                _loaded.Add(table.Qualified);
                _loadedHere.Add(table.Qualified);
            }
        }

        _carriedFiles.Add(carried.Path);
    }

    private async Task DefineAsync(CarriedTable table, CancellationToken cancellationToken)
    {
        _carry!.Defined(table.Relation);
        await DefineAsync(new TableDefinitionChange(table.Relation, table.Qualified, table.Statements, table.Ties), cancellationToken);
    }

    /// <summary>A table created in the lane of the tables it is tied to, before its first row.</summary>
    private async Task DefineAsync(TableDefinitionChange definition, CancellationToken cancellationToken)
    {
        foreach (var tie in definition.Ties)
        {
            _routes.Tie(definition.Qualified, tie);
        }

        await SendAsync(_routes.LaneOf(definition.Relation), definition, cancellationToken);
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

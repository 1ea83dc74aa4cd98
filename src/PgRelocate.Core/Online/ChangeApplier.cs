using Npgsql;
using NpgsqlTypes;
using PgRelocate.Errors;

namespace PgRelocate.Online;

/// <summary>
/// Applies changes to the target in the source's commit order, as an ordinary database owner. Consecutive
/// source transactions are grouped into one target transaction, whose last statement advances the stored
/// position: the group and its position commit together or not at all. A transaction whose commit is before
/// the stored position was applied before a restart and is skipped. How the rows are written (batches, COPY
/// for runs of INSERTs, repeated UPDATEs of a row applied once) is <see cref="TargetWrites"/>'s.
/// </summary>
internal sealed class ChangeApplier(NpgsqlConnection connection, string slot, NpgsqlLogSequenceNumber position)
{
    private readonly Dictionary<SourceRelation, TargetTable> _tables = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<uint, SourceRelation> _lastDescribed = [];
    private readonly TargetWrites _writes = new(connection);
    private NpgsqlTransaction? _transaction;
    private bool _skipping;
    private bool _inSourceTransaction;
    private long _groupChanges;
    private long _groupTransactions;
    private ulong _groupEnd;
    private DateTime _groupStarted;

    /// <summary>Every source transaction committed before this is applied and committed on the target.</summary>
    public NpgsqlLogSequenceNumber Position { get; private set; } = position;

    /// <summary>Changes taken from the reader (applied or skipped), to compare with what it read.</summary>
    public long Processed { get; private set; }

    /// <summary>Row changes and source transactions committed on the target by this applier.</summary>
    public long Changes { get; private set; }

    public long Transactions { get; private set; }

    /// <summary>Row changes applied in the open group, not committed yet (a large transaction shows progress through it).</summary>
    public long Pending => _groupChanges;

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
    public HashSet<string> ChangedTables { get; } = new(StringComparer.Ordinal);

    /// <summary>True when no source transaction is half applied and no group waits to commit.</summary>
    public bool Idle => !_inSourceTransaction && _transaction is null;

    /// <summary>True when a group of whole source transactions waits to commit.</summary>
    public bool HasCommittable => !_inSourceTransaction && _groupTransactions > 0;

    public async Task ApplyAsync(Change change, CancellationToken cancellationToken)
    {
        Processed++;
        switch (change)
        {
            case BeginChange b:
                _inSourceTransaction = true;
                _skipping = b.CommitLsn < (ulong)Position;
                ApplyingCommitTime = b.CommitTime;
                if (!_skipping && _transaction is null)
                {
                    _transaction = await connection.BeginTransactionAsync(cancellationToken);
                    _writes.Begin(_transaction);
                    _groupStarted = DateTime.UtcNow;
                }

                return;
            case CommitChange c:
                _inSourceTransaction = false;
                ApplyingCommitTime = null;
                LastCommitTime = c.CommitTime;
                if (!_skipping)
                {
                    _groupTransactions++;
                    _groupEnd = c.EndLsn;
                }

                return;
        }

        if (_skipping)
        {
            return;
        }

        _groupChanges++;
        switch (change)
        {
            case InsertChange i:
                await _writes.InsertAsync(await TableAsync(i.Relation, cancellationToken), i.New, cancellationToken);
                break;
            case UpdateChange u:
                await _writes.UpdateAsync(await TableAsync(u.Relation, cancellationToken), u, cancellationToken);
                break;
            case DeleteChange d:
                await _writes.DeleteAsync(await TableAsync(d.Relation, cancellationToken), d, cancellationToken);
                break;
            case TruncateChange tr:
                var tables = new List<TargetTable>();
                foreach (var r in tr.Relations)
                {
                    tables.Add(await TableAsync(r, cancellationToken));
                }

                await _writes.TruncateAsync(tables, tr.RestartIdentity, tr.Cascade, cancellationToken);
                break;
        }
    }

    /// <summary>Sends what the open transaction holds so far (a large transaction shows progress), inside it.</summary>
    public Task FlushAsync(CancellationToken cancellationToken) => _writes.SendPendingAsync(cancellationToken);

    /// <summary>Commits the group of whole source transactions with its position; returns the new position, or null when there was nothing to commit.</summary>
    public async Task<NpgsqlLogSequenceNumber?> CommitAsync(CancellationToken cancellationToken)
    {
        if (!HasCommittable || _transaction is null)
        {
            return null;
        }

        var end = new NpgsqlLogSequenceNumber(_groupEnd);
        await _writes.AddLastAsync(TargetState.Advance(slot, end, _groupChanges, _groupTransactions), cancellationToken);
        await _writes.SendAllAsync(cancellationToken);
        await _transaction.CommitAsync(cancellationToken);
        await _transaction.DisposeAsync();
        _transaction = null;
        Position = end;
        Changes += _groupChanges;
        Transactions += _groupTransactions;
        _groupChanges = 0;
        _groupTransactions = 0;
        return end;
    }

    /// <summary>Whether the open group is big or old enough to commit at the next transaction boundary.</summary>
    public bool GroupIsFull => HasCommittable && (_groupChanges >= 20_000 || DateTime.UtcNow - _groupStarted > TimeSpan.FromMilliseconds(500));

    private async Task<TargetTable> TableAsync(SourceRelation relation, CancellationToken cancellationToken)
    {
        if (!_tables.TryGetValue(relation, out var table))
        {
            if (_lastDescribed.TryGetValue(relation.Id, out var before))
            {
                TargetTable.CheckRedescribed(before, relation);
            }

            _lastDescribed[relation.Id] = relation;

            // Send what is held first: the catalog query runs on the same connection.
            await _writes.SendAllAsync(cancellationToken);
            table = await TargetTable.DescribeAsync(connection, relation, cancellationToken);
            _tables[relation] = table;
            if (ChangedTables.Add(table.Qualified))
            {
                await _writes.AddOwnAsync(TargetState.Changed(table.Qualified), cancellationToken);
            }
        }

        return table;
    }
}

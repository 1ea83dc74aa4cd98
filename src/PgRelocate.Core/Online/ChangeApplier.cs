using Npgsql;
using NpgsqlTypes;
using PgRelocate.Errors;

namespace PgRelocate.Online;

/// <summary>
/// Applies changes to the target in the source's commit order, as an ordinary database owner. Consecutive
/// source transactions are grouped into one target transaction, whose last statement advances the stored
/// position: the group and its position commit together or not at all. Statements go in batches (prepared
/// automatically by the connection once they repeat). A transaction whose commit is before the stored position
/// was applied before a restart and is skipped.
/// </summary>
internal sealed class ChangeApplier(NpgsqlConnection connection, string slot, NpgsqlLogSequenceNumber position)
{
    private const int BatchSize = 200;

    private readonly Dictionary<SourceRelation, TargetTable> _tables = new(ReferenceEqualityComparer.Instance);
    private readonly List<(int Index, string Table, string Verb)> _mustTouchOne = [];
    private NpgsqlBatch _batch = new(connection);
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
                    _batch = new NpgsqlBatch(connection, _transaction);
                    _groupStarted = DateTime.UtcNow;
                }

                return;
            case CommitChange c:
                _inSourceTransaction = false;
                ApplyingCommitTime = null;
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

        switch (change)
        {
            case InsertChange i:
                await AddAsync((await TableAsync(i.Relation, cancellationToken)).Insert(i.New), null, cancellationToken);
                break;
            case UpdateChange u:
                var table = await TableAsync(u.Relation, cancellationToken);
                if (table.Update(u) is { } update)
                {
                    await AddAsync(update, table.ForeignKeyActions ? null : (table.Display, "UPDATE"), cancellationToken);
                }

                break;
            case DeleteChange d:
                var t = await TableAsync(d.Relation, cancellationToken);
                await AddAsync(t.Delete(d), t.ForeignKeyActions ? null : (t.Display, "DELETE"), cancellationToken);
                break;
            case TruncateChange tr:
                var names = new List<string>();
                foreach (var r in tr.Relations)
                {
                    var target = await TableAsync(r, cancellationToken);
                    names.Add((target.Partitioned ? "" : "ONLY ") + target.Qualified);
                }

                await AddAsync(new NpgsqlBatchCommand($"TRUNCATE {string.Join(", ", names)}{(tr.RestartIdentity ? " RESTART IDENTITY" : "")}{(tr.Cascade ? " CASCADE" : "")}"), null, cancellationToken);
                break;
        }
    }

    /// <summary>Sends the statements batched so far (inside the open transaction).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_batch.BatchCommands.Count == 0)
        {
            return;
        }

        try
        {
            await _batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (!Follower.IsTransient(e))
        {
            throw new PgRelocateException($"Applying a change on the target failed: {e.MessageText} ({e.SqlState}){(e.TableName is null ? "" : " on table " + e.TableName)}. Follow stopped; nothing after the last applied transaction was kept.", ExitCode.Failed, e);
        }

        foreach (var (index, table, verb) in _mustTouchOne)
        {
            if (_batch.BatchCommands[index].RecordsAffected == 0)
            {
                throw new PgRelocateException($"An {verb} on {table} found no row on the target: the target no longer matches the source (was it written to?). Follow stopped; cancel and start again.", ExitCode.Failed);
            }
        }

        _mustTouchOne.Clear();
        _batch.BatchCommands.Clear();
    }

    /// <summary>Commits the group of whole source transactions with its position; returns the new position, or null when there was nothing to commit.</summary>
    public async Task<NpgsqlLogSequenceNumber?> CommitAsync(CancellationToken cancellationToken)
    {
        if (!HasCommittable || _transaction is null)
        {
            return null;
        }

        var end = new NpgsqlLogSequenceNumber(_groupEnd);
        _batch.BatchCommands.Add(TargetState.Advance(slot, end, _groupChanges, _groupTransactions));
        await FlushAsync(cancellationToken);
        await _transaction.CommitAsync(cancellationToken);
        await _transaction.DisposeAsync();
        _transaction = null;
        _batch = new NpgsqlBatch(connection);
        Position = end;
        Changes += _groupChanges;
        Transactions += _groupTransactions;
        _groupChanges = 0;
        _groupTransactions = 0;
        return end;
    }

    /// <summary>Whether the open group is big or old enough to commit at the next transaction boundary.</summary>
    public bool GroupIsFull => HasCommittable && (_groupChanges >= 20_000 || DateTime.UtcNow - _groupStarted > TimeSpan.FromMilliseconds(500));

    private async Task AddAsync(NpgsqlBatchCommand command, (string Table, string Verb)? mustTouchOne, CancellationToken cancellationToken)
    {
        _groupChanges++;
        if (mustTouchOne is { } m)
        {
            _mustTouchOne.Add((_batch.BatchCommands.Count, m.Table, m.Verb));
        }

        _batch.BatchCommands.Add(command);
        if (_batch.BatchCommands.Count >= BatchSize)
        {
            await FlushAsync(cancellationToken);
        }
    }

    private async Task<TargetTable> TableAsync(SourceRelation relation, CancellationToken cancellationToken)
    {
        if (!_tables.TryGetValue(relation, out var table))
        {
            // Send what is batched first: the catalog query runs on the same connection.
            await FlushAsync(cancellationToken);
            table = await TargetTable.DescribeAsync(connection, relation, cancellationToken);
            _tables[relation] = table;
            ChangedTables.Add(table.Qualified);
        }

        return table;
    }
}

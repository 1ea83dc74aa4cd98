using System.Text;
using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Online;

/// <summary>
/// The statements that carry row changes to the target, inside the applier's open transaction, in an order
/// that gives the same result as the source's:
/// <list type="bullet">
/// <item>statements go in batches, prepared by the connection once they repeat;</item>
/// <item>a run of INSERTs into one table goes by COPY (one round trip and no statement per row, the cost that
/// makes an insert-heavy source outrun an applier);</item>
/// <item>repeated UPDATEs of one row are applied once, with the last values, when the target's constraints
/// cannot tell the difference (<see cref="TargetTable.Coalescable"/>): the applier commits whole groups of
/// source transactions, so nothing outside sees the rows in between, and the hot rows every transaction of a
/// busy application touches cost one statement per group instead of one per change.</item>
/// </list>
/// A held-back UPDATE is sent before any other change to its row, a run of INSERTs before any change that is
/// not an INSERT into its table; everything is sent by <see cref="SendAllAsync"/> before the group commits.
/// Memory stays flat: runs, held-back rows and batches are bounded.
/// </summary>
internal sealed class TargetWrites(NpgsqlConnection connection)
{
    private const int BatchSize = 200;

    /// <summary>A run this long or longer goes by COPY; a shorter one as INSERTs in the batch.</summary>
    private const int CopyFrom = 20;

    private const int MaxRun = 5_000;

    /// <summary>At most this many rows wait with a held-back UPDATE (a million-row UPDATE streams through).</summary>
    private const int MaxDeferred = 10_000;

    private readonly Dictionary<(TargetTable Table, string Key), UpdateChange> _deferred = [];
    private readonly List<RowValues> _run = [];
    private readonly List<(int Index, string Table, string Verb)> _mustTouchOne = [];
    private NpgsqlBatch _batch = new(connection);
    private TargetTable? _runTable;

    /// <summary>Starts a new target transaction's batch.</summary>
    public void Begin(NpgsqlTransaction transaction) => _batch = new NpgsqlBatch(connection, transaction);

    public async Task InsertAsync(TargetTable table, RowValues row, CancellationToken cancellationToken)
    {
        await SendDeferredAsync(table, row, cancellationToken);
        if (_runTable != table)
        {
            await SendRunAsync(cancellationToken);
            _runTable = table;
        }

        _run.Add(row);
        if (_run.Count >= MaxRun)
        {
            await SendRunAsync(cancellationToken);
        }
    }

    public async Task UpdateAsync(TargetTable table, UpdateChange change, CancellationToken cancellationToken)
    {
        if (change.Old is null && table.KeyOf(change.New) is { } key)
        {
            // Held back until the group commits or the row is touched otherwise, merged with any later UPDATE.
            _deferred[(table, key)] = _deferred.TryGetValue((table, key), out var earlier) ? Merge(earlier, change) : change;
            if (_deferred.Count >= MaxDeferred)
            {
                await SendDeferredAsync(cancellationToken);
            }

            return;
        }

        await SendRunAsync(cancellationToken);
        await SendDeferredAsync(table, change.Old ?? change.New, cancellationToken);
        if (table.Update(change) is { } update)
        {
            await AddAsync(update, table.RowsMayVanish ? null : (table.Display, "UPDATE"), cancellationToken);
        }
    }

    public async Task DeleteAsync(TargetTable table, DeleteChange change, CancellationToken cancellationToken)
    {
        await SendRunAsync(cancellationToken);
        await SendDeferredAsync(table, change.Old, cancellationToken);
        // A row the target's own ON DELETE CASCADE removed with its parent is gone already.
        await AddAsync(table.Delete(change), table.RowsMayVanish ? null : (table.Display, "DELETE"), cancellationToken);
    }

    public async Task TruncateAsync(IReadOnlyList<TargetTable> tables, bool restartIdentity, bool cascade, CancellationToken cancellationToken)
    {
        await SendRunAsync(cancellationToken);
        await SendDeferredAsync(cancellationToken);
        var names = tables.Select(t => (t.Partitioned ? "" : "ONLY ") + t.Qualified);
        await AddAsync(new NpgsqlBatchCommand($"TRUNCATE {string.Join(", ", names)}{(restartIdentity ? " RESTART IDENTITY" : "")}{(cascade ? " CASCADE" : "")}"), null, cancellationToken);
    }

    /// <summary>Adds a statement of the applier's own whose place among the changes does not matter.</summary>
    public Task AddOwnAsync(NpgsqlBatchCommand command, CancellationToken cancellationToken) => AddAsync(command, null, cancellationToken);

    /// <summary>Adds a statement of the applier's own (the position) after everything held back is sent.</summary>
    public async Task AddLastAsync(NpgsqlBatchCommand command, CancellationToken cancellationToken)
    {
        await SendRunAsync(cancellationToken);
        await SendDeferredAsync(cancellationToken);
        _batch.BatchCommands.Add(command);
    }

    /// <summary>Sends everything: runs, held-back UPDATEs and the batch (before a commit, or a catalog query on this connection).</summary>
    public async Task SendAllAsync(CancellationToken cancellationToken)
    {
        await SendRunAsync(cancellationToken);
        await SendDeferredAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    /// <summary>Sends what is batched and the run of INSERTs, so a half-applied transaction shows progress; held-back UPDATEs wait.</summary>
    public async Task SendPendingAsync(CancellationToken cancellationToken)
    {
        await SendRunAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    /// <summary>Two UPDATEs of one row as one: the later values, and the earlier ones where the later left a TOASTed value unchanged.</summary>
    private static UpdateChange Merge(UpdateChange earlier, UpdateChange later)
    {
        var count = later.New.Values.Length;
        var values = new string?[count];
        var unchanged = new bool[count];
        for (var i = 0; i < count; i++)
        {
            var fromEarlier = later.New.Unchanged[i];
            values[i] = fromEarlier ? earlier.New.Values[i] : later.New.Values[i];
            unchanged[i] = fromEarlier && earlier.New.Unchanged[i];
        }

        return later with { New = new RowValues(values, unchanged) };
    }

    /// <summary>Sends the held-back UPDATE of this row, if any, before another change to it.</summary>
    private async Task SendDeferredAsync(TargetTable table, RowValues row, CancellationToken cancellationToken)
    {
        if (_deferred.Count > 0 && table.KeyOf(row) is { } key && _deferred.Remove((table, key), out var update))
        {
            // The row may be in the run of INSERTs not sent yet.
            await SendRunAsync(cancellationToken);
            await AddUpdateAsync(table, update, cancellationToken);
        }
    }

    /// <summary>Sends every held-back UPDATE (rows of different keys of tables no constraint ties together: any order).</summary>
    private async Task SendDeferredAsync(CancellationToken cancellationToken)
    {
        if (_deferred.Count == 0)
        {
            return;
        }

        await SendRunAsync(cancellationToken);
        var all = _deferred.ToList();
        _deferred.Clear();
        foreach (var ((table, _), update) in all)
        {
            await AddUpdateAsync(table, update, cancellationToken);
        }
    }

    private async Task AddUpdateAsync(TargetTable table, UpdateChange update, CancellationToken cancellationToken)
    {
        if (table.Update(update) is { } command)
        {
            await AddAsync(command, (table.Display, "UPDATE"), cancellationToken);
        }
    }

    /// <summary>Sends the run of INSERTs: by COPY when it is long enough, after the statements batched before it.</summary>
    private async Task SendRunAsync(CancellationToken cancellationToken)
    {
        if (_runTable is not { } table || _run.Count == 0)
        {
            return;
        }

        var rows = _run.ToList();
        _run.Clear();
        if (rows.Count < CopyFrom)
        {
            foreach (var row in rows)
            {
                await AddAsync(table.Insert(row), null, cancellationToken);
            }

            return;
        }

        await FlushAsync(cancellationToken);
        try
        {
            await using var writer = await connection.BeginTextImportAsync(table.CopyStatement, cancellationToken);
            var line = new StringBuilder();
            foreach (var row in rows)
            {
                line.Clear();
                TargetTable.AppendCopyLine(line, row);
                await writer.WriteAsync(line, cancellationToken);
            }
        }
        catch (PostgresException e) when (!Follower.IsTransient(e))
        {
            throw Failed(e);
        }
    }

    /// <summary>Sends the statements batched so far (inside the open transaction).</summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
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
            throw Failed(e);
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

    private async Task AddAsync(NpgsqlBatchCommand command, (string Table, string Verb)? mustTouchOne, CancellationToken cancellationToken)
    {
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

    private static PgRelocateException Failed(PostgresException e) =>
        new($"Applying a change on the target failed: {e.MessageText} ({e.SqlState}){(e.TableName is null ? "" : " on table " + e.TableName)}. Follow stopped; nothing after the last applied transaction was kept.", ExitCode.Failed, e);
}

using System.Text;
using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Online.Apply;

/// <summary>
/// The statements that carry row changes to the target, inside the applier's open transaction, in an order
/// that gives the same result as the source's:
/// <list type="bullet">
/// <item>statements go in batches, prepared by the connection once they repeat;</item>
/// <item>a run of INSERTs into one table goes by COPY (one round trip and no statement per row, the cost that
/// makes an insert-heavy source outrun an applier);</item>
/// <item>a run of DELETEs by key from one table goes as one statement when no row of it can hold another in
/// place (<see cref="TargetTable.DeletesTogether"/>);</item>
/// <item>UPDATEs that keep their row's key are held back when the target's constraints cannot tell their
/// order (<see cref="TargetTable.Coalescable"/>): repeated UPDATEs of one row are applied once, with the last
/// values (the applier commits whole groups of source transactions, so nothing outside sees the rows in
/// between, and the hot rows every transaction of a busy application touches cost one statement per group
/// instead of one per change), and the held-back rows of a table go as one statement (a million-row UPDATE
/// costs a statement per <see cref="TogetherAtMost"/> rows, not one per row).</item>
/// </list>
/// A held-back UPDATE is sent before any other change to its row, a run before any change that is not of its
/// kind and table; everything is sent by <see cref="SendAllAsync"/> before the group commits.
/// Memory stays flat: runs, held-back rows and batches are bounded.
/// </summary>
internal sealed class TargetWrites(NpgsqlConnection connection, FollowSides? sides = null)
{
    /// <summary>
    /// The apply session's settings: the stream's values are text in the source's output formats, read back the
    /// same way; no timeout cuts a long group short; names resolve only as written; no JIT: a statement whose plan
    /// the planner costs above jit_above_cost (a table without statistics yet, a keyless table's row found by reading
    /// a large table) was compiled each time it ran, 70 ms for an UPDATE of 1,000 rows by key that ran in 9 ms.
    /// </summary>
    public const string SessionSettings = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET default_transaction_read_only = off; SET search_path = pg_catalog; " + Connections.Db.WithoutJit;

    private const int BatchSize = 200;

    /// <summary>A run or held-back table this long or longer goes by COPY or as one statement; a shorter one as a statement per row in the batch.</summary>
    private const int TogetherFrom = 20;

    /// <summary>
    /// At most this many rows per statement of many rows: the planner then looks each row up by the key's index
    /// (a hash join over a large table is several times slower); the statements of one send still go in one
    /// batch.
    /// </summary>
    private const int TogetherAtMost = 1_000;

    private const int MaxRun = 5_000;

    /// <summary>At most this many rows wait with a held-back UPDATE (a million-row UPDATE streams through).</summary>
    private const int MaxDeferred = 10_000;

    private readonly Dictionary<(TargetTable Table, string Key), UpdateChange> _deferred = [];
    private readonly List<RowValues> _run = [];
    private readonly List<(int Index, string Table, string Verb, int Rows)> _mustTouch = [];
    private NpgsqlBatch _batch = new(connection);
    private TargetTable? _runTable;
    private bool _runDeletes;

    /// <summary>Starts a new target transaction's batch.</summary>
    public void Begin(NpgsqlTransaction transaction) => _batch = new NpgsqlBatch(connection, transaction);

    public async Task InsertAsync(TargetTable table, RowValues row, CancellationToken cancellationToken)
    {
        await SendDeferredAsync(table, row, cancellationToken);
        await AddToRunAsync(table, deletes: false, row, cancellationToken);
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
            await AddAsync(update, table.RowsMayVanish ? null : (table.Display, "UPDATE", 1), cancellationToken);
        }
    }

    public async Task DeleteAsync(TargetTable table, DeleteChange change, CancellationToken cancellationToken)
    {
        if (table.DeletesTogether && !change.OldIsFullRow && table.CarriesKey(change.Old))
        {
            await SendDeferredAsync(table, change.Old, cancellationToken);
            await AddToRunAsync(table, deletes: true, change.Old, cancellationToken);
            return;
        }

        await SendRunAsync(cancellationToken);
        await SendDeferredAsync(table, change.Old, cancellationToken);
        // A row the target's own ON DELETE CASCADE removed with its parent is gone already.
        await AddAsync(table.Delete(change.Old, change.OldIsFullRow), table.RowsMayVanish ? null : (table.Display, "DELETE", 1), cancellationToken);
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

    /// <summary>
    /// Sends every held-back UPDATE (rows of different keys of tables no constraint ties together: any order),
    /// the rows of one table that leave the same columns unchanged as one statement when there are enough.
    /// </summary>
    private async Task SendDeferredAsync(CancellationToken cancellationToken)
    {
        if (_deferred.Count == 0)
        {
            return;
        }

        await SendRunAsync(cancellationToken);
        var all = _deferred.ToList();
        _deferred.Clear();
        foreach (var same in all.GroupBy(e => (e.Key.Table, Unchanged: UnchangedColumns(e.Value.New))))
        {
            var table = same.Key.Table;
            var updates = same.Select(e => e.Value).ToList();
            if (updates.Count < TogetherFrom)
            {
                foreach (var update in updates)
                {
                    await AddUpdateAsync(table, update, cancellationToken);
                }
            }
            else
            {
                foreach (var chunk in updates.Chunk(TogetherAtMost))
                {
                    if (table.UpdateMany(Array.ConvertAll(chunk, u => u.New)) is { } command)
                    {
                        await AddByKeyAsync(command, (table.Display, "UPDATE", chunk.Length), cancellationToken);
                    }
                }
            }
        }
    }

    /// <summary>Which values a row leaves unchanged, as a string to group rows by.</summary>
    private static string UnchangedColumns(RowValues row) => string.Create(row.Unchanged.Length, row.Unchanged, (chars, unchanged) =>
    {
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = unchanged[i] ? '1' : '0';
        }
    });

    private async Task AddUpdateAsync(TargetTable table, UpdateChange update, CancellationToken cancellationToken)
    {
        if (table.Update(update) is { } command)
        {
            await AddAsync(command, (table.Display, "UPDATE", 1), cancellationToken);
        }
    }

    /// <summary>Adds a row to the run of INSERTs or DELETEs of this table, sending the run before it if it is another's.</summary>
    private async Task AddToRunAsync(TargetTable table, bool deletes, RowValues row, CancellationToken cancellationToken)
    {
        if (_runTable != table || _runDeletes != deletes)
        {
            await SendRunAsync(cancellationToken);
            _runTable = table;
            _runDeletes = deletes;
        }

        _run.Add(row);
        if (_run.Count >= MaxRun)
        {
            await SendRunAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Sends the run: INSERTs by COPY and DELETEs as one statement when it is long enough, a statement per row
    /// otherwise, after the statements batched before it.
    /// </summary>
    private async Task SendRunAsync(CancellationToken cancellationToken)
    {
        if (_runTable is not { } table || _run.Count == 0)
        {
            return;
        }

        var rows = _run.ToList();
        _run.Clear();
        if (_runDeletes)
        {
            if (rows.Count < TogetherFrom)
            {
                foreach (var key in rows)
                {
                    await AddAsync(table.Delete(key, fullRow: false), (table.Display, "DELETE", 1), cancellationToken);
                }
            }
            else
            {
                foreach (var chunk in rows.Chunk(TogetherAtMost))
                {
                    await AddByKeyAsync(table.DeleteMany(chunk), (table.Display, "DELETE", chunk.Length), cancellationToken);
                }
            }

            return;
        }

        if (rows.Count < TogetherFrom)
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
        catch (PostgresException e) when (!Transience.IsTransient(e))
        {
            throw Failed(e, Sides);
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
        catch (PostgresException e) when (!Transience.IsTransient(e))
        {
            throw Failed(e, Sides);
        }

        foreach (var (index, table, verb, rows) in _mustTouch)
        {
            var found = _batch.BatchCommands[index].RecordsAffected;
            if (found < rows)
            {
                var what = rows == 1 ? $"An {verb} on {table} found no row" : $"{verb}s of {rows} rows of {table} found only {found} of them";
                throw new PgRelocateException($"{what} on the {Sides.Target}: the {Sides.Target} no longer matches the {Sides.Source} (was it written to?). Follow stopped; cancel and start again.", ExitCode.Failed);
            }
        }

        _mustTouch.Clear();
        _batch.BatchCommands.Clear();
    }

    /// <summary>
    /// Adds a statement of many rows joined to their table by key, planned to find the rows through the key's index
    /// whatever the table's statistics say: analyzed while the apply held uncommitted rows, a table looks empty to the
    /// planner (reltuples 0), which then reads the whole table, or walks the whole index, for every such statement
    /// (137 ms a statement at 300,000 rows; a 200,000-row transaction caught up in 171 s instead of 10 s). With the
    /// statement's own "first key = ANY (its keys)" (<see cref="TargetTable.UpdateMany"/>), no table scan, no nested
    /// loop (whose outer side would be the table it believes empty, each row compared with every key) and no merge
    /// join leave one plan: the index finds the rows by their keys and a hash of the keys joins them, in 13 ms
    /// for 1,000 rows at 300,000 with statistics saying the table is empty, as with true ones. The settings are the
    /// transaction's (SET LOCAL) and reset after the statement, so nothing else the session runs is planned so.
    /// </summary>
    private async Task AddByKeyAsync(NpgsqlBatchCommand command, (string Table, string Verb, int Rows) mustTouch, CancellationToken cancellationToken)
    {
        foreach (var setting in ByKeyPlanSettings)
        {
            await AddAsync(new NpgsqlBatchCommand($"SET LOCAL {setting} = off"), null, cancellationToken);
        }

        await AddAsync(command, mustTouch, cancellationToken);
        foreach (var setting in ByKeyPlanSettings)
        {
            await AddAsync(new NpgsqlBatchCommand($"RESET {setting}"), null, cancellationToken);
        }
    }

    /// <summary>The plans a key join must not take: reading the whole table, a loop over the rows it believes are few, or merging along the whole index.</summary>
    private static readonly string[] ByKeyPlanSettings = ["enable_seqscan", "enable_nestloop", "enable_mergejoin"];

    /// <param name="mustTouch">The rows the statement must find (a row the source changed that the target lacks stops the follow), or null when it may find fewer.</param>
    private async Task AddAsync(NpgsqlBatchCommand command, (string Table, string Verb, int Rows)? mustTouch, CancellationToken cancellationToken)
    {
        if (mustTouch is { } m)
        {
            _mustTouch.Add((_batch.BatchCommands.Count, m.Table, m.Verb, m.Rows));
        }

        _batch.BatchCommands.Add(command);
        if (_batch.BatchCommands.Count >= BatchSize)
        {
            await FlushAsync(cancellationToken);
        }
    }

    /// <summary>The server's hint is kept: a source transaction that wrote more tables than the target's lock table holds says to raise max_locks_per_transaction.</summary>
    private FollowSides Sides => sides ?? FollowSides.Forward;

    private static PgRelocateException Failed(PostgresException e, FollowSides sides) =>
        new($"Applying a change on the {sides.Target} failed: {e.MessageText} ({e.SqlState}){(e.TableName is null ? "" : " on table " + e.TableName)}.{Connections.Db.HintOf(e)} Follow stopped; nothing after the last applied transaction was kept.", ExitCode.Failed, e);
}

using System.Collections.Concurrent;
using System.Threading.Channels;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Tools;

namespace PgRelocate.Copy;

/// <summary>
/// The data and index phase. <see cref="CopyOptions.Jobs"/> workers, each a source reader in the snapshot and
/// a target writer, take chunks largest first; when the last chunk of a table is in, that table's indexes
/// and key constraints go to <see cref="CopyOptions.IndexJobs"/> index workers, which ANALYZE the table
/// after its last index. A <see cref="WorkGate"/> keeps the number of steps running at once to its slots (the larger
/// of the two; both together where a server is far: see <see cref="CopyStart.Lanes"/>), index builds first, small
/// tables' work (light) free while nothing else holds a slot. Any failure cancels every worker. With a <see cref="CopyRecord"/>, every table,
/// range, index, constraint and ANALYZE is recorded in the transaction that does it (small tables share one, see
/// <see cref="SmallTables"/>), and what the record says is done (a resumed copy's) is not done again.
/// </summary>
internal sealed partial class DataPhase(CopyOptions options, int slots, SourceSnapshot snapshot, SchemaArchive schema, StepClock clock, IReporter reporter, CopyRecord? record = null, CopyYield? yield = null)
{
    /// <summary>The index workers' queue: each piece of work, and whether it is light (small tables': see <see cref="WorkGate"/>).</summary>
    private readonly Channel<(Func<NpgsqlConnection, CancellationToken, Task> Work, bool Light)> _indexWork = Channel.CreateUnbounded<(Func<NpgsqlConnection, CancellationToken, Task>, bool)>();
    private readonly ConcurrentDictionary<uint, int> _chunksLeft = new();
    private readonly ConcurrentDictionary<uint, TableProgress> _progress = new();
    private readonly WorkGate _gate = new(slots, options.IndexJobs);
    private int _next = -1;
    private int _chunksCommitted;
    private int _indexesCommitted;
    private int _tablesPending;
    private IReadOnlyList<DataChunk> _chunks = [];
    private IReadOnlyList<DataChunk[]> _units = [];
    private HashSet<uint> _loadedInRanges = [];
    private CopyProgressTotals _totals = null!;

    public long Rows => _progress.Values.Sum(p => p.Rows);

    public long Bytes => _progress.Values.Sum(p => p.Bytes);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var largeObjects = record is not null ? await LargeObjectsLeftAsync(cancellationToken) : snapshot.LargeObjects;
        _chunks = Plan(snapshot.Tables, largeObjects, snapshot.LargeObjectBytes, options.SplitSize, options.Jobs);
        if (options.SplitTablesLargerThan is null && options.SplitSize == 0 && snapshot.Tables.Any(t => t.HeapBytes > CopyOptions.DefaultSplit))
        {
            reporter.Info($"Tables over {CopyOptions.DefaultSplit >> 20} MB are copied in one stream each, loaded frozen: both servers share this machine's {Environment.ProcessorCount} cores with the copy's {options.Jobs} streams, where page ranges side by side gain nothing and cost a vacuum (--split-tables-larger-than {CopyOptions.DefaultSplit >> 20} splits them anyway).");
        }
        if (record is not null)
        {
            // A table the interrupted copy split keeps its ranges; what is recorded as in is not copied again.
            _chunks = [.. _chunks.Where(c => c.Table is null || !record.Ranges.ContainsKey(c.Table.Display))
                .Concat(snapshot.Tables.Where(t => record.Ranges.ContainsKey(t.Display))
                    .SelectMany(t => record.Ranges[t.Display].Select(r => DataChunk.Range(t, r.From, r.To, t.TotalBytes / record.Ranges[t.Display].Count))))
                .OrderByDescending(c => c.EstimatedBytes)];
            await using (var conn = await CopySessions.OpenWriterAsync(options, cancellationToken))
            {
                await record.SaveRangesAsync(conn, _chunks, cancellationToken);
            }

            _chunks = [.. _chunks.Where(c => c.Table is null || !record.Done.Contains(CopyRecord.RowsItem(c)))];
        }

        _loadedInRanges = [.. _chunks.Where(c => c.Table is not null && !c.IsWholeTable).Select(c => c.Table!.Oid)];

        _units = SmallTables.Group(_chunks, options.Jobs);
        _totals = new CopyProgressTotals(reporter, snapshot.Tables.Count);
        foreach (var group in _chunks.Where(c => c.Table is not null).GroupBy(c => c.Table!.Oid))
        {
            _chunksLeft[group.Key] = group.Count();
        }

        _tablesPending = _chunksLeft.Count;
        foreach (var t in snapshot.Tables)
        {
            _progress[t.Oid] = new TableProgress(reporter, t.Display, t.EstimatedRows, _totals);
        }

        // The tables whose rows are all in already: their indexes (those not built yet) go first.
        var inAlready = snapshot.Tables.Where(t => !_chunksLeft.ContainsKey(t.Oid)).ToList();
        foreach (var t in inAlready)
        {
            _progress[t.Oid].Finish();
            if (!SmallTables.Fits(DataChunk.Whole(t)))
            {
                QueueIndexes(t);
            }
        }

        foreach (var batch in inAlready.Where(t => SmallTables.Fits(DataChunk.Whole(t))).Chunk(SmallTables.MaxBatch))
        {
            QueueSmallIndexes(batch);
        }

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = failed.Token;
        var data = Enumerable.Range(0, Math.Max(1, options.Jobs)).Select(_ => Workers.Guard(DataWorkerAsync(token), failed)).ToList();
        var index = Enumerable.Range(0, Math.Max(1, options.IndexJobs)).Select(_ => Workers.Guard(IndexWorkerAsync(token), failed)).ToList();
        // The index workers stop once the data workers are done (or failed) and the queue is empty.
        _ = Task.WhenAll(data).ContinueWith(_ => _indexWork.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        await Workers.WhenAllAsync([.. data, .. index], cancellationToken);
    }

    /// <summary>
    /// Largest first. A table larger than the split size becomes page ranges of about that size, at least as
    /// many as there are jobs, so one big table does not leave the other workers idle at the end, and the
    /// largest table, usually the one with the longest index builds, is in soonest.
    /// </summary>
    internal static IReadOnlyList<DataChunk> Plan(IReadOnlyList<CopyTable> tables, IReadOnlyList<uint> largeObjects, long largeObjectBytes, long splitAbove, int jobs)
    {
        const long pageSize = 8192;
        var chunks = new List<DataChunk>();
        foreach (var t in tables)
        {
            var pages = t.HeapBytes / pageSize;
            if (splitAbove <= 0 || t.HeapBytes <= splitAbove || pages < 2)
            {
                chunks.Add(DataChunk.Whole(t));
                continue;
            }

            var parts = (int)Math.Min(pages, Math.Max(jobs, (t.HeapBytes + splitAbove - 1) / splitAbove));
            var step = (pages + parts - 1) / parts;
            for (long from = 0; from < pages; from += step)
            {
                var to = from + step >= pages ? (long?)null : from + step;
                chunks.Add(DataChunk.Range(t, from, to, t.TotalBytes / parts));
            }
        }

        // Large objects in batches, so several workers share them when there are many.
        if (largeObjects.Count > 0)
        {
            var batches = largeObjects.Chunk(Math.Max(100, largeObjects.Count / Math.Max(1, jobs * 4) + 1)).ToList();
            chunks.AddRange(batches.Select(b => DataChunk.Objects(b, largeObjectBytes / batches.Count)));
        }

        return [.. chunks.OrderByDescending(c => c.EstimatedBytes)];
    }

    private async Task DataWorkerAsync(CancellationToken cancellationToken)
    {
        if (yield is not null)
        {
            await YieldingWorkerAsync(yield, cancellationToken);
            return;
        }

        await using var reader = await CopySessions.OpenReaderAsync(options.Source, snapshot.Id, cancellationToken);
        await using var writer = await CopySessions.OpenWriterAsync(options, cancellationToken);
        while (Interlocked.Increment(ref _next) is var i && i < _units.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // A batch of small tables is light work (see WorkGate); a table or a range of pages is not.
            using var slot = await _gate.EnterAsync(priority: false, cancellationToken, light: _units[i] is not [_]);
            if (_units[i] is [var chunk])
            {
                await CopyChunkAsync(reader, writer, chunk, cancellationToken);
            }
            else
            {
                await CopySmallAsync(reader, writer, _units[i], cancellationToken);
            }
        }
    }

    /// <param name="locked">The caller has locked the table on the source already.</param>
    private async Task CopyChunkAsync(NpgsqlConnection reader, NpgsqlConnection writer, DataChunk chunk, CancellationToken cancellationToken, bool locked = false)
    {
        var start = clock.Now;
        if (chunk.Table is null)
        {
            var bytes = await LargeObjectCopier.CopyAsync(reader, writer, chunk.LargeObjects, cancellationToken);
            clock.Add("large objects", $"{chunk.LargeObjects.Count} objects", start, chunk.LargeObjects.Count, bytes);
            return;
        }

        var copied = await CopyRowsAsync(reader, writer, chunk, record is null ? null : CopyRecord.Mark(CopyRecord.RowsItem(chunk)), false, cancellationToken, locked);
        clock.Add("data", CopyRecord.ChunkName(chunk), start, copied.Rows, copied.Bytes);
        if (Committed(chunk))
        {
            QueueIndexes(chunk.Table);
        }
    }

    /// <summary>The step's result, or its server error said with the table's name.</summary>
    private static async Task<T> Described<T>(CopyTable table, Task<T> step)
    {
        try
        {
            return await step;
        }
        catch (PostgresException e)
        {
            throw new TableCopyException(table, $"Copying the rows of {table.Display} failed: {e.MessageText} ({e.SqlState}).", e);
        }
    }

    private Task<(long Rows, long Bytes)> CopyRowsAsync(NpgsqlConnection reader, NpgsqlConnection writer, DataChunk chunk, string? mark, bool inBatch, CancellationToken cancellationToken, bool locked = false) =>
        Described(chunk.Table!, ChunkCopier.CopyAsync(reader, writer, chunk, _progress[chunk.Table!.Oid], mark, cancellationToken, emptied: inBatch, locked: inBatch || locked, freeze: !inBatch));

    /// <summary>Counts a committed chunk; true when it was its table's last.</summary>
    private bool Committed(DataChunk chunk)
    {
        var table = chunk.Table!;
        options.Milestone?.Invoke($"chunk-{Interlocked.Increment(ref _chunksCommitted)}");
        if (_chunksLeft.AddOrUpdate(table.Oid, 0, (_, n) => n - 1) != 0)
        {
            return false;
        }

        _progress[table.Oid].Finish();
        if (Interlocked.Decrement(ref _tablesPending) == 0)
        {
            options.Milestone?.Invoke("rows-in");
        }

        return true;
    }

    /// <summary>Queues a table's indexes (those not built yet); the worker that finishes the last one runs ANALYZE.</summary>
    private void QueueIndexes(CopyTable table)
    {
        var indexes = (schema.Indexes.TryGetValue(table.Oid, out var list) ? list : [])
            .OrderBy(i => i.BuildsFirst ? 0 : 1).ToList();
        var pending = indexes.Where(i => !IsDone(CopyRecord.IndexItem("index", table, i.Name))).ToList();
        var left = pending.Count;
        if (left == 0)
        {
            if (!IsDone(CopyRecord.IndexItem("analyze", table)))
            {
                _gate.Expect(1);
                Queue(light: false, async (conn, ct) =>
                {
                    await AttachConstraintsAsync(conn, table, indexes, ct);
                    await AnalyzeAsync(conn, table, ct);
                });
            }

            return;
        }

        _gate.Expect(left);
        foreach (var index in pending)
        {
            Queue(light: false, async (conn, ct) =>
            {
                var start = clock.Now;
                try
                {
                    // GIN builds are faster with less memory than B-tree sorts.
                    if (index.IsGin)
                    {
                        var memory = await IndexBuilds.IsOverJsonbAsync(conn, index.Sql, ct) ? IndexBuilds.JsonbGinMemory : IndexBuilds.GinMemory;
                        await Db.ExecuteAsync(conn, $"SET maintenance_work_mem = {Db.Literal(memory)}", ct);
                    }

                    await ExecuteRecordedAsync(conn, index.Sql, CopyRecord.IndexItem("index", table, index.Name), ct);
                    if (index.IsGin)
                    {
                        await Db.ExecuteAsync(conn, $"SET maintenance_work_mem = {Db.Literal(options.MaintenanceWorkMem)}", ct);
                    }
                }
                catch (PostgresException e)
                {
                    throw new PgRelocateException($"Building {index.Name} on {table.Display} failed: {e.MessageText} ({e.SqlState}). Statement: {index.Sql}", ExitCode.Failed, e);
                }

                clock.Add("index", $"{table.Display}: {index.Name}", start);
                if (Interlocked.Decrement(ref left) == 0)
                {
                    await AttachConstraintsAsync(conn, table, indexes, ct);
                    await AnalyzeAsync(conn, table, ct);
                }
            });
        }
    }

    /// <summary>Queues work for the index workers, which the caller announced to the gate (<see cref="WorkGate.Expect"/>).</summary>
    private void Queue(bool light, Func<NpgsqlConnection, CancellationToken, Task> work) => _indexWork.Writer.TryWrite((work, light));

    private bool IsDone(string item) => record is not null && record.Done.Contains(item);

    /// <summary>
    /// Runs <paramref name="sql"/>; with a record, in one transaction with the statement that records
    /// <paramref name="item"/> as done (a crash leaves both or neither), then tells the milestone.
    /// </summary>
    private async Task ExecuteRecordedAsync(NpgsqlConnection conn, string sql, string item, CancellationToken cancellationToken)
    {
        if (record is null)
        {
            await Db.ExecuteAsync(conn, sql, cancellationToken);
        }
        else
        {
            // One round trip: a statement that fails ends the batch, and the worker's failure ends the copy.
            await Db.ExecuteAsync(conn, $"BEGIN; {sql.TrimEnd().TrimEnd(';')}; {CopyRecord.Mark(item)}; COMMIT", cancellationToken);
        }

        options.Milestone?.Invoke($"index-{Interlocked.Increment(ref _indexesCommitted)}");
    }

    /// <summary>Turns the unique indexes into their constraints, once no other build holds the table.</summary>
    private async Task AttachConstraintsAsync(NpgsqlConnection conn, CopyTable table, IReadOnlyList<TableIndex> indexes, CancellationToken cancellationToken)
    {
        foreach (var index in indexes.Where(i => i.AttachSql is not null && !IsDone(CopyRecord.IndexItem("constraint", table, i.Name))))
        {
            var start = clock.Now;
            try
            {
                await ExecuteRecordedAsync(conn, index.AttachSql!, CopyRecord.IndexItem("constraint", table, index.Name), cancellationToken);
            }
            catch (PostgresException e)
            {
                throw new PgRelocateException($"Making {index.Name} a constraint of {table.Display} failed: {e.MessageText} ({e.SqlState}). Statement: {index.AttachSql}", ExitCode.Failed, e);
            }

            clock.Add("constraint", $"{table.Display}: {index.Name}", start);
        }
    }

    /// <summary>
    /// ANALYZE once a table's indexes are built. A table loaded in page ranges is vacuumed as well: its rows came in
    /// transactions that did not empty it, so COPY could not write them frozen, with their hint bits and the
    /// visibility map set, as it does a whole table. Without that, the first statement to read the table (the
    /// post-data's foreign-key validation) rewrites every page and must read the heap, where a visibility map lets it
    /// read the key's index alone. Measured on 10 M rows: the validation took 10.4 s after ANALYZE, 2.1 s after a
    /// 3.3 s VACUUM. VACUUM cannot run in a transaction, so it is recorded after it ends (doing it twice is harmless).
    /// </summary>
    private async Task AnalyzeAsync(NpgsqlConnection conn, CopyTable table, CancellationToken cancellationToken)
    {
        var start = clock.Now;
        var item = CopyRecord.IndexItem("analyze", table);
        if (!_loadedInRanges.Contains(table.Oid))
        {
            await ExecuteRecordedAsync(conn, $"ANALYZE {table.Qualified}", item, cancellationToken);
            clock.Add("analyze", table.Display, start);
            return;
        }

        // Nothing was deleted, so the indexes have nothing to clean up (INDEX_CLEANUP, PostgreSQL 12 on).
        await Db.ExecuteAsync(conn, $"VACUUM ({(conn.PostgreSqlVersion.Major >= 12 ? "INDEX_CLEANUP OFF, " : "")}ANALYZE) {table.Qualified}", cancellationToken);
        if (record is not null)
        {
            await Db.ExecuteAsync(conn, CopyRecord.Mark(item), cancellationToken);
        }

        options.Milestone?.Invoke($"index-{Interlocked.Increment(ref _indexesCommitted)}");
        clock.Add("vacuum analyze", table.Display, start);
    }

    /// <summary>The large objects not on the target yet (each batch is copied in one transaction: one that is there is whole).</summary>
    private async Task<IReadOnlyList<uint>> LargeObjectsLeftAsync(CancellationToken cancellationToken)
    {
        if (snapshot.LargeObjects.Count == 0)
        {
            return [];
        }

        await using var conn = await CopySessions.OpenAsync(options.Target, "target", cancellationToken);
        var there = (await Db.ListAsync(conn, "SELECT oid FROM pg_catalog.pg_largeobject_metadata", r => r.GetFieldValue<uint>(0), cancellationToken)).ToHashSet();
        return [.. snapshot.LargeObjects.Where(o => !there.Contains(o))];
    }

    private async Task IndexWorkerAsync(CancellationToken cancellationToken)
    {
        await using var writer = await CopySessions.OpenWriterAsync(options, cancellationToken);
        await foreach (var (work, light) in _indexWork.Reader.ReadAllAsync(cancellationToken))
        {
            using var slot = await _gate.EnterAsync(priority: true, cancellationToken, light);
            await work(writer, cancellationToken);
        }
    }
}

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
/// <see cref="SmallTables"/>), and what the record says is done (a resumed copy's) is not done again. This class
/// plans the units and runs the workers: a <see cref="UnitLoader"/> copies each unit, <see cref="IndexWorkers"/> build
/// the indexes, and a copy that yields to the application has <see cref="YieldingDataWorkers"/> for data workers.
/// </summary>
internal sealed class DataPhase(CopyOptions options, int slots, SourceSnapshot snapshot, SchemaArchive schema, StepClock clock, IReporter reporter, EarlyForeignKeys foreignKeys, CopyRecord? record = null, CopyYield? yield = null)
{
    private readonly ConcurrentDictionary<uint, TableProgress> _progress = new();
    private readonly WorkGate _gate = new(slots, options.IndexJobs);
    private int _next = -1;
    private IReadOnlyList<DataChunk> _chunks = [];
    private IReadOnlyList<DataChunk[]> _units = [];
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

        var indexes = new IndexWorkers(options, schema, clock, _gate, _chunks.Where(c => c.Table is not null && !c.IsWholeTable).Select(c => c.Table!.Oid).ToHashSet(), record, foreignKeys);

        _units = SmallTables.Group(_chunks, options.Jobs);
        _totals = new CopyProgressTotals(reporter, snapshot.Tables.Count);
        foreach (var t in snapshot.Tables)
        {
            _progress[t.Oid] = new TableProgress(reporter, t.Display, t.EstimatedRows, _totals);
        }

        var loader = new UnitLoader(options, clock, _progress, indexes, record, _chunks);

        // The tables whose rows are all in already: their indexes (those not built yet) go first.
        var inAlready = snapshot.Tables.Where(t => !loader.HasChunks(t.Oid)).ToList();
        foreach (var t in inAlready)
        {
            _progress[t.Oid].Finish();
            if (!SmallTables.Fits(DataChunk.Whole(t)))
            {
                indexes.QueueIndexes(t);
            }
        }

        foreach (var batch in inAlready.Where(t => SmallTables.Fits(DataChunk.Whole(t))).Chunk(SmallTables.MaxBatch))
        {
            indexes.QueueSmallIndexes(batch);
        }

        var yielding = yield is null ? null : new YieldingDataWorkers(options, snapshot.Id, yield, _gate, loader, indexes, NextUnit);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = failed.Token;
        var data = Enumerable.Range(0, Math.Max(1, options.Jobs)).Select(_ => Workers.Guard(yielding?.WorkerAsync(token) ?? DataWorkerAsync(loader, token), failed)).ToList();
        var index = Enumerable.Range(0, Math.Max(1, options.IndexJobs)).Select(_ => Workers.Guard(indexes.WorkerAsync(token), failed)).ToList();
        // Once the data workers are done, the foreign keys between tables complete by then are checked; the index
        // workers stop once the data workers are done (or failed) and the queue is empty.
        _ = Task.WhenAll(data).ContinueWith(
            t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    indexes.RowsIn();
                }

                indexes.Complete();
            },
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
        await Workers.WhenAllAsync([.. data, .. index], cancellationToken);
    }

    /// <summary>
    /// Largest first. A table larger than the split size becomes page ranges of about that size, at least as
    /// many as there are jobs, so one big table does not leave the other workers idle at the end, and the
    /// largest table, usually the one with the longest index builds, is in soonest.
    /// </summary>
    internal static IReadOnlyList<DataChunk> Plan(IReadOnlyList<CopyTable> tables, IReadOnlyList<uint> largeObjects, long largeObjectBytes, long splitAbove, int jobs)
    {
        var chunks = new List<DataChunk>();
        foreach (var t in tables)
        {
            var pages = t.HeapBytes / PageSize;
            var parts = PartsOf(t.HeapBytes, splitAbove, jobs);
            if (parts == 1)
            {
                chunks.Add(DataChunk.Whole(t));
                continue;
            }

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

    private const long PageSize = 8192;

    /// <summary>
    /// How many pieces <see cref="Plan"/> copies a table of this heap in: 1 at or under the split size (none: 0), else
    /// page ranges of about that size, at least one a job, at most one a page. The estimate plays the same out.
    /// </summary>
    internal static int PartsOf(long heapBytes, long splitAbove, int jobs)
    {
        var pages = heapBytes / PageSize;
        return splitAbove <= 0 || heapBytes <= splitAbove || pages < 2
            ? 1
            : (int)Math.Min(pages, Math.Max(jobs, (heapBytes + splitAbove - 1) / splitAbove));
    }

    /// <summary>A data worker: a source reader in the snapshot and a target writer, which copy the units one after another.</summary>
    private async Task DataWorkerAsync(UnitLoader loader, CancellationToken cancellationToken)
    {
        await using var reader = await CopySessions.OpenReaderAsync(options.Source, snapshot.Id, cancellationToken);
        await using var writer = await CopySessions.OpenWriterAsync(options, cancellationToken);
        while (NextUnit() is { } unit)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // A batch of small tables is light work (see WorkGate); a table or a range of pages is not.
            using var slot = await _gate.EnterAsync(priority: false, cancellationToken, light: unit is not [_]);
            if (unit is [var chunk])
            {
                await loader.CopyChunkAsync(reader, writer, chunk, cancellationToken);
            }
            else
            {
                await loader.CopySmallAsync(reader, writer, unit, cancellationToken);
            }
        }
    }

    /// <summary>The next unit to copy, shared by the data workers; null once there is none.</summary>
    private DataChunk[]? NextUnit() => Interlocked.Increment(ref _next) is var i && i < _units.Count ? _units[i] : null;

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
}

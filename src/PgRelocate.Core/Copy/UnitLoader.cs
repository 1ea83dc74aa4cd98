using System.Collections.Concurrent;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Copy;

/// <summary>
/// Copies the data phase's units (see <see cref="DataPhase"/>) from a source reader to a target writer: a table, a range
/// of its pages or a batch of large objects, each in a transaction of its own, or a batch of small tables (see
/// <see cref="SmallTables"/>) in one. It counts each committed chunk, and hands a table whose last chunk is in to the
/// <see cref="IndexWorkers"/>.
/// </summary>
/// <param name="chunks">The chunks left to copy, which the loader counts down table by table.</param>
internal sealed class UnitLoader(CopyOptions options, StepClock clock, IReadOnlyDictionary<uint, TableProgress> progress, IndexWorkers indexes, CopyRecord? record, IReadOnlyList<DataChunk> chunks)
{
    private readonly ConcurrentDictionary<uint, int> _chunksLeft = new(chunks.Where(c => c.Table is not null).GroupBy(c => c.Table!.Oid).Select(g => KeyValuePair.Create(g.Key, g.Count())));
    private int _tablesPending = chunks.Where(c => c.Table is not null).Select(c => c.Table!.Oid).Distinct().Count();
    private int _chunksCommitted;

    /// <summary>Whether the table has chunks to copy (false: its rows are all in already).</summary>
    public bool HasChunks(uint table) => _chunksLeft.ContainsKey(table);

    /// <param name="locked">The caller has locked the table on the source already.</param>
    public async Task CopyChunkAsync(NpgsqlConnection reader, NpgsqlConnection writer, DataChunk chunk, CancellationToken cancellationToken, bool locked = false)
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
            indexes.QueueIndexes(chunk.Table);
        }
    }

    /// <summary>
    /// A batch of small tables (see <see cref="SmallTables"/>): locked on the source in one statement, loaded on the
    /// target in one transaction, which records them all and commits once. They are not emptied first: the schema
    /// created them empty, and a resumed copy loads only those whose transaction did not commit. So their rows are
    /// not written frozen (COPY FREEZE needs a TRUNCATE in the transaction): at a few pages a table, the TRUNCATE,
    /// which gives each table new files, cost more than anything else done for it (measured at 5,000 tables).
    /// </summary>
    public async Task CopySmallAsync(NpgsqlConnection reader, NpgsqlConnection writer, DataChunk[] batch, CancellationToken cancellationToken, bool locked = false)
    {
        var tables = batch.Select(c => c.Table!).ToList();
        if (!locked)
        {
            await ChunkCopier.LockAsync(reader, tables, cancellationToken);
        }

        await Db.ExecuteAsync(writer, "BEGIN", cancellationToken);
        if (tables.All(t => t.Binary))
        {
            await LoadReadingAheadAsync(reader, writer, batch, cancellationToken);
        }
        else
        {
            foreach (var chunk in batch)
            {
                var start = clock.Now;
                var copied = await CopyRowsAsync(reader, writer, chunk, null, true, cancellationToken);
                clock.Add("data", CopyRecord.ChunkName(chunk), start, copied.Rows, copied.Bytes);
            }
        }

        await Db.ExecuteAsync(writer, (record is null ? "" : CopyRecord.Mark(batch.Select(CopyRecord.RowsItem)) + "; ") + "COMMIT", cancellationToken);
        var done = batch.Where(Committed).Select(c => c.Table!).ToList();
        if (done.Count > 0)
        {
            indexes.QueueSmallIndexes(done);
        }
    }

    /// <summary>
    /// Loads a batch's tables one after another while the source sends the next one's rows: a small table's copy is
    /// its round trips (one to the source, two to the target), and the source's now overlaps the target's. Behind a
    /// 4 ms round trip that was a third of the data phase at 1,000 tables.
    /// </summary>
    private async Task LoadReadingAheadAsync(NpgsqlConnection reader, NpgsqlConnection writer, DataChunk[] batch, CancellationToken cancellationToken)
    {
        Task<HeldRows>? next = ReadAsync(0);
        for (var i = 0; i < batch.Length; i++)
        {
            var start = clock.Now;
            using var held = await next!;
            next = i + 1 < batch.Length ? ReadAsync(i + 1) : null;
            try
            {
                var table = batch[i].Table!;
                var copied = await Described(table, ChunkCopier.WriteHeldAsync(writer, table, held, progress[table.Oid], cancellationToken));
                clock.Add("data", CopyRecord.ChunkName(batch[i]), start, copied.Rows, copied.Bytes);
            }
            catch when (next is not null)
            {
                // The next read still uses the reader: it ends, and its rows are let go, before the error leaves the batch.
                await next.ContinueWith(
                    read =>
                    {
                        if (read.IsCompletedSuccessfully)
                        {
                            read.Result.Dispose();
                        }
                    },
                    TaskScheduler.Default);
                throw;
            }
        }

        Task<HeldRows> ReadAsync(int i) => Described(batch[i].Table!, ChunkCopier.ReadWholeAsync(reader, batch[i].Table!, cancellationToken));
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
        Described(chunk.Table!, ChunkCopier.CopyAsync(reader, writer, chunk, progress[chunk.Table!.Oid], mark, cancellationToken, emptied: inBatch, locked: inBatch || locked, freeze: !inBatch));

    /// <summary>Counts a committed chunk; true when it was its table's last.</summary>
    public bool Committed(DataChunk chunk)
    {
        var table = chunk.Table!;
        options.Milestone?.Invoke($"chunk-{Interlocked.Increment(ref _chunksCommitted)}");
        if (_chunksLeft.AddOrUpdate(table.Oid, 0, (_, n) => n - 1) != 0)
        {
            return false;
        }

        progress[table.Oid].Finish();
        if (Interlocked.Decrement(ref _tablesPending) == 0)
        {
            options.Milestone?.Invoke(CopyOptions.RowsIn);
        }

        return true;
    }
}

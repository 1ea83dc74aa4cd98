using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Copy;

/// <summary>The data phase's small tables (see <see cref="SmallTables"/>): loaded in batches, indexed in round trips of several.</summary>
internal sealed partial class DataPhase
{
    /// <summary>
    /// A batch of small tables (see <see cref="SmallTables"/>): locked on the source in one statement, loaded on the
    /// target in one transaction, which records them all and commits once. They are not emptied first: the schema
    /// created them empty, and a resumed copy loads only those whose transaction did not commit. So their rows are
    /// not written frozen (COPY FREEZE needs a TRUNCATE in the transaction): at a few pages a table, the TRUNCATE,
    /// which gives each table new files, cost more than anything else done for it (measured at 5,000 tables).
    /// </summary>
    private async Task CopySmallAsync(NpgsqlConnection reader, NpgsqlConnection writer, DataChunk[] batch, CancellationToken cancellationToken, bool locked = false)
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
            QueueSmallIndexes(done);
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
                var copied = await Described(table, ChunkCopier.WriteHeldAsync(writer, table, held, _progress[table.Oid], cancellationToken));
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

    /// <summary>
    /// Queues the indexes, constraints and ANALYZE of a batch of small tables as one piece of work, in one transaction
    /// (a commit per table cost as much as its index builds): the statements of <see cref="SmallTables.PerRoundTrip"/>
    /// tables, with their records, go in one round trip, and the last one commits them all.
    /// </summary>
    private void QueueSmallIndexes(IReadOnlyList<CopyTable> tables)
    {
        var work = tables.Select(t => (Table: t, Steps: SmallTables.Steps(t, schema.Indexes.TryGetValue(t.Oid, out var list) ? list : [], IsDone))).Where(w => w.Steps.Count > 0).ToList();
        if (work.Count == 0)
        {
            return;
        }

        _gate.Expect(1);
        Queue(light: true, async (conn, ct) =>
        {
            var groups = work.Chunk(SmallTables.PerRoundTrip).ToList();
            for (var i = 0; i < groups.Count; i++)
            {
                var group = groups[i];
                var start = clock.Now;
                var statements = SmallTables.RoundTrip(group, recorded: record is not null, first: i == 0, last: i == groups.Count - 1);
                var commands = statements.Select(x => new NpgsqlBatchCommand(x.Sql)).ToList();
                await using var batch = new NpgsqlBatch(conn);
                commands.ForEach(batch.BatchCommands.Add);

                try
                {
                    await batch.ExecuteNonQueryAsync(ct);
                }
                catch (PostgresException e)
                {
                    // The first statement without a completion is the one that failed.
                    var failed = commands.FindIndex(c => c.StatementType == StatementType.Unknown);
                    var (table, statement) = failed >= 0 ? statements[failed] : (group[0].Table, string.Join("; ", statements.Select(x => x.Sql)));
                    throw new PgRelocateException($"Building the indexes and constraints of {table.Display} failed: {e.MessageText} ({e.SqlState}). Statement: {statement}", ExitCode.Failed, e);
                }

                clock.AddShared("indexes", [.. group.Select(w => $"{w.Table.Display}: {string.Join(", ", w.Steps.SelectMany(s => s.Items).Select(item => item.Replace(" " + w.Table.Display, "", StringComparison.Ordinal)))}")], start);
            }

            foreach (var _ in work.SelectMany(w => w.Steps).SelectMany(s => s.Items))
            {
                options.Milestone?.Invoke($"index-{Interlocked.Increment(ref _indexesCommitted)}");
            }
        });
    }
}

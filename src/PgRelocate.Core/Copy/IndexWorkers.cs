using System.Threading.Channels;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Restore;

namespace PgRelocate.Copy;

/// <summary>
/// The data phase's index work (see <see cref="DataPhase"/>): queues each table's indexes, key constraints and
/// ANALYZE once its rows are in, and runs them on <see cref="CopyOptions.IndexJobs"/> index workers, each on a target
/// session of its own, through the <see cref="WorkGate"/> with priority. With a <see cref="CopyRecord"/>, each is recorded
/// in the transaction that does it, and what the record says is done is not done again. Once a table is complete
/// (analyzed) and every table's rows are in, the worker that completed it adds and validates the foreign keys whose
/// tables are now both complete; those whose tables were complete before the rows were all in are queued then
/// (<see cref="EarlyForeignKeys"/>).
/// </summary>
internal sealed class IndexWorkers(CopyOptions options, SchemaArchive schema, StepClock clock, WorkGate gate, IReadOnlySet<uint> loadedInRanges, CopyRecord? record, EarlyForeignKeys foreignKeys)
{
    /// <summary>The index workers' queue: each piece of work, and whether it is light (small tables': see <see cref="WorkGate"/>).</summary>
    private readonly Channel<(Func<NpgsqlConnection, CancellationToken, Task> Work, bool Light)> _work = Channel.CreateUnbounded<(Func<NpgsqlConnection, CancellationToken, Task>, bool)>();
    private int _indexesCommitted;

    /// <summary>Runs the queued work on a target session of its own until <see cref="Complete"/> and the queue is empty.</summary>
    public async Task WorkerAsync(CancellationToken cancellationToken)
    {
        await using var writer = await CopySessions.OpenWriterAsync(options, cancellationToken);
        await foreach (var (work, light) in _work.Reader.ReadAllAsync(cancellationToken))
        {
            using var slot = await gate.EnterAsync(priority: true, cancellationToken, light);
            await work(writer, cancellationToken);
        }
    }

    /// <summary>No more work comes: the workers stop once the queue is empty.</summary>
    public void Complete() => _work.Writer.TryComplete();

    /// <summary>Every table's rows are in: the foreign keys whose tables were complete before that are checked now, one piece of work per referencing table (see <see cref="EarlyForeignKeys"/>).</summary>
    public void RowsIn()
    {
        var groups = foreignKeys.RowsIn();
        gate.Expect(groups.Count);
        foreach (var keys in groups)
        {
            Queue(light: false, (conn, ct) => foreignKeys.CheckAsync(conn, keys, ct));
        }
    }

    /// <summary>Queues a table's indexes (those not built yet); the worker that finishes the last one runs ANALYZE.</summary>
    public void QueueIndexes(CopyTable table)
    {
        var indexes = (schema.Indexes.TryGetValue(table.Oid, out var list) ? list : [])
            .OrderBy(i => i.BuildsFirst ? 0 : 1).ToList();
        var pending = indexes.Where(i => !IsDone(CopyRecord.IndexItem("index", table, i.Name))).ToList();
        var left = pending.Count;
        if (left == 0)
        {
            if (!IsDone(CopyRecord.IndexItem("analyze", table)))
            {
                gate.Expect(1);
                Queue(light: false, async (conn, ct) =>
                {
                    await AttachConstraintsAsync(conn, table, indexes, ct);
                    await AnalyzeAsync(conn, table, ct);
                    await foreignKeys.CompleteAsync(conn, table, ct);
                });
            }

            return;
        }

        gate.Expect(left);
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
                    await foreignKeys.CompleteAsync(conn, table, ct);
                }
            });
        }
    }

    /// <summary>Queues work for the index workers, which the caller announced to the gate (<see cref="WorkGate.Expect"/>).</summary>
    private void Queue(bool light, Func<NpgsqlConnection, CancellationToken, Task> work) => _work.Writer.TryWrite((work, light));

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
        if (!loadedInRanges.Contains(table.Oid))
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

    /// <summary>
    /// Queues the indexes, constraints and ANALYZE of a batch of small tables as one piece of work, in one transaction
    /// (a commit per table cost as much as its index builds): the statements of <see cref="SmallTables.PerRoundTrip"/>
    /// tables, with their records, go in one round trip, and the last one commits them all.
    /// </summary>
    public void QueueSmallIndexes(IReadOnlyList<CopyTable> tables)
    {
        var work = tables.Select(t => (Table: t, Steps: SmallTables.Steps(t, schema.Indexes.TryGetValue(t.Oid, out var list) ? list : [], IsDone))).Where(w => w.Steps.Count > 0).ToList();
        if (work.Count == 0)
        {
            return;
        }

        gate.Expect(1);
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

            foreach (var (table, _) in work)
            {
                await foreignKeys.CompleteAsync(conn, table, ct);
            }
        });
    }
}

using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Progress;
using PgRelocate.Runners;
using PgRelocate.Tools;

namespace PgRelocate.Preflight;

/// <summary>
/// Measures, within <see cref="EstimateOptions.Budget"/>, what the estimate predicts from: the round trip to each
/// side; how fast the source serves its largest tables' rows (a binary COPY of each, read to nowhere, for a share of
/// the budget); how fast one lane puts the largest table's rows into the target, builds a B-tree on them and, where
/// the source has foreign keys, checks one (<see cref="ForeignKeyChecks"/>), and what one small table costs (<see cref="SmallTableSample"/>) (scratch tables in the tool's schema, in a transaction
/// rolled back at the end: written only where the target is empty or --confirm names it); and the source's WAL rate
/// (pg_current_wal_lsn, read at the start, around the target's sample and at the end; not counted during the sample
/// unless the target is another server, so that a target on the same server adds none of its own) with the busiest
/// tables' writes (pg_stat_user_tables, read at the start and the end); and, while the WAL is watched, how long
/// <c>pg_dump --schema-only</c> of the source takes (the copy's and the restore's schema steps grow with it). Each
/// sample and the WAL's watch end early once their rate has settled (<see cref="SettlingRate"/>): the budget bounds
/// an uneven source's measurement, a steady one's takes a few seconds.
/// </summary>
internal static class EstimateMeasurer
{
    /// <summary>The share of the budget the source's reads may take, and the share by which the target's sample ends.</summary>
    private const double ReadShare = 0.4, WriteEnd = 0.75, WaitEnd = 0.95;

    /// <summary>The largest tables read.</summary>
    private const int TablesRead = 3;

    /// <summary>After this long without the source's WAL moving, it is idle: the measurement need not wait longer.</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);

    /// <summary>The share of a lane's rate under which the source's WAL is too little to watch longer (see <see cref="WalWindow.WaitAsync"/>).</summary>
    private const double NegligibleWal = 0.001;

    private const string Scratch = "estimate_scratch", ScratchIndex = "estimate_scratch_index";

    /// <summary>The least time the schema's dump is given, however little of the budget is left.</summary>
    private static readonly TimeSpan MinSchemaDump = TimeSpan.FromSeconds(1);

    public static async Task<EstimateMeasures> MeasureAsync(PreflightContext context, EstimateOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var budget = options.Budget;
        var basis = new List<string>();
        var source = context.Source;
        var sizes = (await SourceSizes.ReadAsync(context, cancellationToken)).Where(s => s.IsTable)
            .ToDictionary(s => (s.Schema, s.Name), s => (s.TableBytes, s.TotalBytes));
        var before = await TablesAsync(source, sizes, cancellationToken);
        var foreignKeys = await ForeignKeyChecks.ReadAsync(source, cancellationToken);
        var wal = new WalWindow(basis, imagesCounted: context.SourceServer.Major >= 14);
        await wal.OpenAsync(source, cancellationToken);
        var tables = before.Select(t => t.Table).ToList();
        var largest = tables.OrderByDescending(t => t.HeapBytes).ThenBy(t => t.Qualified, StringComparer.Ordinal).Take(TablesRead).ToList();
        var sourceTrip = await RoundTrip.MeasureAsync(source, cancellationToken);
        TimeSpan? targetTrip = context.HasTarget ? await RoundTrip.MeasureAsync(context.Target!, cancellationToken) : null;

        double? readRate = null;
        if (largest.Count > 0)
        {
            double heap = 0, seconds = 0;
            var settled = 0;
            foreach (var table in largest)
            {
                var left = budget * ReadShare - clock.Elapsed;
                var share = left / (largest.Count - largest.IndexOf(table));
                if (share <= TimeSpan.Zero)
                {
                    break;
                }

                var moved = await EstimateSample.ReadAsync(source, table, share, cancellationToken);
                heap += moved.HeapBytes;
                seconds += moved.Took.TotalSeconds;
                settled += moved.Settled ? 1 : 0;
            }

            readRate = seconds > 0 ? heap / seconds : null;
            basis.Add($"source read: {Units.Rate(readRate ?? 0)} of heap, one session, from a binary COPY to nowhere of {Names(largest)} ({Units.Bytes((long)heap)} in {Seconds(seconds)}{Settled(settled, largest.Count)}).");
        }
        else
        {
            basis.Add("source read: no user tables to sample.");
        }

        // Another server's writes are not in the source's WAL: the window stays open through the target's sample.
        var apart = context.HasTarget && await AnotherServerAsync(source, context.Target!, cancellationToken);
        await (apart ? wal.MarkAsync(source, cancellationToken) : wal.PauseAsync(source, cancellationToken));
        var written = await WriteAsync(context, options, largest.FirstOrDefault(), tables, foreignKeys.Count > 0, basis, budget * WriteEnd - clock.Elapsed, cancellationToken);
        await (apart ? wal.MarkAsync(source, cancellationToken) : wal.ResumeAsync(source, cancellationToken));
        // The schema's dump reads the catalog and writes no WAL: it runs while the WAL is watched, within the same time.
        var schema = SchemaDumpAsync(context, Max(budget * WaitEnd - clock.Elapsed, MinSchemaDump), basis, cancellationToken);
        // A WAL rate under a thousandth of a lane's adds less than a thousandth of the copy's time to the catch-up.
        var negligible = (written.Rate ?? readRate ?? 0) * NegligibleWal;
        await wal.WaitAsync(source, () => budget * WaitEnd - clock.Elapsed, Idle, negligible, cancellationToken);
        var schemaSeconds = await schema;

        var after = await TablesAsync(source, sizes, cancellationToken);
        var busiest = Busiest(before, after, clock.Elapsed);
        var (largeObjects, largeObjectBytes, sequences) = await Db.SingleAsync(source, CatalogSql.Load("Preflight/EstimateCounts.sql"), r => (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)), cancellationToken);
        int? cores = context.SourceInfo.IsLocal && (context.TargetInfo?.IsLocal ?? true) ? Environment.ProcessorCount : null;
        basis.Add(cores is { } n
            ? $"cores: {n} on this machine, shared by both servers and this tool."
            : "cores: not readable on a remote server; assumed enough for every lane.");
        var targetTripText = targetTrip is { } t ? string.Create(CultureInfo.InvariantCulture, $", target {t.TotalMilliseconds:0.###} ms") : "";
        basis.Add(string.Create(CultureInfo.InvariantCulture, $"round trips: source {sourceTrip.TotalMilliseconds:0.###} ms{targetTripText}."));
        return new EstimateMeasures
        {
            SourceReadBytesPerSecond = readRate,
            TargetWriteBytesPerSecond = written.Rate,
            IndexRowsPerSecond = written.Index?.RowsPerSecond,
            IndexBytesPerSecond = written.Index?.BytesPerSecond,
            IndexSampleRows = written.IndexRows,
            Analyze = written.Analyze,
            SmallTableSeconds = written.SmallTableSeconds,
            ForeignKeyRowsPerSecond = written.ForeignKeyRowsPerSecond,
            ForeignKeys = foreignKeys,
            SourceRoundTrip = sourceTrip,
            TargetRoundTrip = targetTrip,
            SourceWalBytesPerSecond = wal.Rate,
            BusiestTables = busiest,
            Tables = tables,
            LargeObjects = largeObjects,
            LargeObjectBytes = largeObjectBytes,
            Sequences = sequences,
            SharedCores = cores,
            SchemaDumpSeconds = schemaSeconds,
            Took = clock.Elapsed,
            Basis = basis,
        };
    }

    /// <summary>
    /// One lane's rate into the target, its B-tree build rate, ANALYZE's cost, a small table's and (where the source
    /// has <paramref name="foreignKeys"/>) a foreign key's check rate, when the target may
    /// be written: not when it holds the tool's schema (a migration's), nor when it holds data and --confirm does not
    /// name it. Nothing measured otherwise, said.
    /// </summary>
    private static async Task<TargetSample> WriteAsync(PreflightContext context, EstimateOptions options, EstimateTable? table, IReadOnlyList<EstimateTable> tables, bool foreignKeys, List<string> basis, TimeSpan limit, CancellationToken cancellationToken)
    {
        if (!context.HasTarget)
        {
            basis.Add("target write: no target given; taken as no faster than the source's read.");
            return TargetSample.None;
        }

        var target = context.Target!;
        if (table is null || limit <= TimeSpan.Zero)
        {
            basis.Add(table is null ? "target write: nothing to sample." : "target write: no time left in the measurement.");
            return TargetSample.None;
        }

        if (await Db.ScalarAsync<bool>(target, $"SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = {Db.Literal(ToolSchema.Name)})", cancellationToken))
        {
            basis.Add($"target write: not measured, the target holds the tool's schema {ToolSchema.Name} (a migration's); taken as no faster than the source's read.");
            return TargetSample.None;
        }

        var objects = await UserObjects.ReadAsync(target, cancellationToken);
        if (objects.Count > 0 && !string.Equals(options.Confirm, context.TargetServer!.Database, StringComparison.Ordinal))
        {
            basis.Add($"target write: not measured, the target holds data ({UserObjects.Sample(objects)}) and --confirm does not name it; taken as no faster than the source's read.");
            return TargetSample.None;
        }

        var columns = await EstimateColumns.ReadAsync(context.Source, table, cancellationToken);
        if (columns.Count == 0)
        {
            basis.Add($"target write: not measured, {table.Qualified} has no column of a built-in type to write to a scratch table.");
            return TargetSample.None;
        }

        var scratch = Db.Qualified(ToolSchema.Name, Scratch);
        try
        {
            await using var transaction = await target.BeginTransactionAsync(cancellationToken);
            await Db.ExecuteAsync(target, $"SET LOCAL synchronous_commit = off; SET LOCAL maintenance_work_mem = {Db.Literal(Copy.CopyOptions.DefaultMaintenanceWorkMem)}; CREATE SCHEMA {Db.Ident(ToolSchema.Name)}; CREATE TABLE {scratch} ({string.Join(", ", columns.Select(c => Db.Ident(c.Name) + " " + c.Type))})", cancellationToken);
            var buffers = await Db.ScalarAsync<long>(target, "SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting('shared_buffers'))", cancellationToken);
            var moved = await EstimateSample.MoveAsync(context.Source, table, [.. columns.Select(c => c.Name)], target, scratch, buffers, limit * 0.8, cancellationToken);
            var rate = moved.HeapRate;
            var past = moved.PastBuffers ? $", its rate taken past the first {Units.Bytes(buffers)} (the target's shared_buffers)"
                : moved.BuffersOutOfReach ? $", stopped where its rate had settled: its share could not take it past the target's shared_buffers ({Units.Bytes(buffers)})" : "";
            basis.Add($"target write: {Units.Rate(rate)} of heap, one lane from {table.Qualified} into a scratch table in {ToolSchema.Name} ({moved.Rows} rows in {Seconds(moved.Took.TotalSeconds)}{past}{Settled(moved.Settled && !moved.BuffersOutOfReach ? 1 : 0, 1)}), rolled back.");
            var index = await IndexAsync(target, scratch, columns[0].Name, moved.Rows, basis, cancellationToken);
            var checks = foreignKeys ? await ForeignKeyChecks.SampleAsync(target, scratch, columns[0].Name, moved.Rows, Copy.CopyOptions.DefaultMaintenanceWorkMem, basis, cancellationToken) : null;
            var analyze = await AnalyzeAsync(target, scratch, moved.Rows, basis, cancellationToken);
            var small = await SmallTableSample.MeasureAsync(context.Source, target, tables, basis, cancellationToken);
            await transaction.RollbackAsync(cancellationToken);
            return new TargetSample(rate, index, moved.Rows, analyze, small, checks);
        }
        catch (PostgresException e)
        {
            basis.Add($"target write: not measured ({e.SqlState}: {e.MessageText}); taken as no faster than the source's read.");
            return TargetSample.None;
        }
    }

    /// <summary>
    /// How long <c>pg_dump --schema-only</c> of the source takes (to a file deleted after), for at most
    /// <paramref name="limit"/>: one stopped there counts as that long, and the basis says it is at least that.
    /// </summary>
    private static async Task<double?> SchemaDumpAsync(PreflightContext context, TimeSpan limit, List<string> basis, CancellationToken cancellationToken)
    {
        var folder = Interrupts.TempFolder("pgrelocate-estimate-").FullName;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(limit);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var pgDump = new PgDump(context.Binaries.PgDumpFor(context.SourceServer.Major), context.SourceInfo, NullReporter.Instance);
            await pgDump.RunAsync(["--schema-only", "--file=" + Path.Combine(folder, "schema.dump")], null, null, "the source's schema", bounded.Token);
            var took = Stopwatch.GetElapsedTime(started).TotalSeconds;
            basis.Add($"schema: pg_dump --schema-only of the source in {Seconds(took)}; the copy's schema steps counted as twice that (dumped, then made on the target).");
            return took;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            basis.Add($"schema: pg_dump --schema-only of the source not done within {Seconds(limit.TotalSeconds)}, the measurement's share; counted as that long, and the copy's schema steps as twice that: at least.");
            return limit.TotalSeconds;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Errors.Failures.Operational(e) is { } failure)
        {
            basis.Add($"schema: pg_dump --schema-only not measured ({failure.Message.TrimEnd('.')}); the copy's schema steps left out.");
            return null;
        }
        finally
        {
            Interrupts.DeleteTempFolder(folder);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// Whether the target is surely another server than the source: their system identifiers differ. Not when either
    /// will not say (pg_control_system() not granted), nor when they match (the same server, or a copy of its files).
    /// </summary>
    private static async Task<bool> AnotherServerAsync(NpgsqlConnection source, NpgsqlConnection target, CancellationToken cancellationToken) =>
        await DatabaseIdentity.TryReadAsync(source, cancellationToken) is { } s
        && await DatabaseIdentity.TryReadAsync(target, cancellationToken) is { } t
        && s.SystemIdentifier != t.SystemIdentifier;

    /// <summary>
    /// A B-tree on the scratch table's first column, as the copy builds the indexes after the rows (with its
    /// maintenance_work_mem): rows per second, and bytes of index per second (its size once built).
    /// </summary>
    private static async Task<IndexSample?> IndexAsync(NpgsqlConnection target, string scratch, string column, long rows, List<string> basis, CancellationToken cancellationToken)
    {
        if (rows < 1000)
        {
            basis.Add("index build: too few rows written to time a build; the indexes are left out of the copy's time.");
            return null;
        }

        await Db.ExecuteAsync(target, "SAVEPOINT estimate_index", cancellationToken);
        try
        {
            var index = Db.Qualified(ToolSchema.Name, ScratchIndex);
            var started = Stopwatch.GetTimestamp();
            await Db.ExecuteAsync(target, $"CREATE INDEX {Db.Ident(ScratchIndex)} ON {scratch} ({Db.Ident(column)})", cancellationToken);
            var took = Math.Max(Stopwatch.GetElapsedTime(started).TotalSeconds, 0.001);
            var bytes = await Db.ScalarAsync<long>(target, $"SELECT pg_catalog.pg_relation_size({Db.Literal(index)}::regclass)", cancellationToken);
            basis.Add(string.Create(CultureInfo.InvariantCulture, $"index build: a B-tree over {rows} rows ({Units.Bytes(bytes)}) in {Seconds(took)}; every B-tree counted at that rate by its rows; an index of another kind by its size at that rate in bytes, weighed by its kind as the copy weighs its build (a GIN or GiST index's build takes longer a byte)."));
            return new IndexSample(rows / took, bytes > 0 ? bytes / took : null);
        }
        catch (PostgresException e)
        {
            await Db.ExecuteAsync(target, "ROLLBACK TO SAVEPOINT estimate_index", cancellationToken);
            basis.Add($"index build: not measured ({e.MessageText}); the indexes are left out of the copy's time.");
            return null;
        }
    }

    /// <summary>
    /// ANALYZE of the scratch table, as the copy runs it after each table's indexes: how long it took and the rows it
    /// sampled (at most 300 times default_statistics_target, whatever the table's size).
    /// </summary>
    private static async Task<(TimeSpan Took, long Rows)?> AnalyzeAsync(NpgsqlConnection target, string scratch, long rows, List<string> basis, CancellationToken cancellationToken)
    {
        if (rows == 0)
        {
            return null;
        }

        var started = Stopwatch.GetTimestamp();
        await Db.ExecuteAsync(target, $"ANALYZE {scratch}", cancellationToken);
        var took = Stopwatch.GetElapsedTime(started);
        var sampled = Math.Min(rows, 300 * long.Parse(await Db.ScalarAsync<string>(target, "SELECT pg_catalog.current_setting('default_statistics_target')", cancellationToken) ?? "100", CultureInfo.InvariantCulture));
        basis.Add($"ANALYZE: {Seconds(took.TotalSeconds)} over a sample of {sampled} rows; each table counted at that cost, less for one of fewer rows.");
        return (took, sampled);
    }

    private static async Task<List<(EstimateTable Table, long Writes)>> TablesAsync(NpgsqlConnection source, Dictionary<(string, string), (long Heap, long Total)> sizes, CancellationToken cancellationToken) =>
        await Db.ListAsync(source, CatalogSql.Load("Preflight/EstimateTables.sql"), r =>
            (new EstimateTable(r.GetString(0), r.GetString(1), sizes.GetValueOrDefault((r.GetString(0), r.GetString(1))).Heap, r.GetInt64(2), r.GetFieldValue<string[]>(3), sizes.GetValueOrDefault((r.GetString(0), r.GetString(1))).Total, r.GetFieldValue<long[]>(5), r.GetInt64(6)),
             r.GetInt64(4)), cancellationToken);

    /// <summary>The five tables with the most rows written per second between the two readings.</summary>
    private static List<TableWriteRate> Busiest(List<(EstimateTable Table, long Writes)> before, List<(EstimateTable Table, long Writes)> after, TimeSpan window)
    {
        var then = before.ToDictionary(b => b.Table.Qualified, b => b.Writes, StringComparer.Ordinal);
        return [.. after
            .Select(a => new TableWriteRate(a.Table.Qualified, (a.Writes - then.GetValueOrDefault(a.Table.Qualified, a.Writes)) / Math.Max(window.TotalSeconds, 0.001)))
            .Where(w => w.RowsPerSecond > 0)
            .OrderByDescending(w => w.RowsPerSecond).ThenBy(w => w.Table, StringComparer.Ordinal)
            .Take(5)];
    }

    /// <summary>What the basis says of samples that stopped where their rate had settled, before their share of the budget ran out.</summary>
    private static string Settled(int samples, int of) =>
        samples == 0 ? "" : of == 1 ? ", stopped where its rate had settled" : $", {samples} of {of} stopped where their rate had settled";

    private static string Names(List<EstimateTable> tables) => string.Join(", ", tables.Select(t => t.Qualified));

    private static string Seconds(double seconds) => string.Create(CultureInfo.InvariantCulture, $"{seconds:0.##} s");
}

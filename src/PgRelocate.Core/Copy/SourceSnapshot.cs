using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Copy;

/// <summary>
/// The coordinator: one source transaction that exports its snapshot and stays open until every reader has
/// imported it and finished, so every table, sequence read and large object comes from the same moment.
/// It also locks every copied table in ACCESS SHARE mode, as pg_dump does, so no table can be dropped or
/// altered under the copy; a DDL statement that waits behind that lock makes the readers fail fast (NOWAIT)
/// instead of deadlocking. A copy that yields (<see cref="CopyOptions.Yields"/>) locks none here: its readers
/// lock each table while they copy it (<see cref="CopyYield"/>).
/// </summary>
internal sealed class SourceSnapshot : IAsyncDisposable
{
    private readonly NpgsqlConnection _conn;

    private SourceSnapshot(NpgsqlConnection conn, string id, ServerVersion server)
    {
        _conn = conn;
        Id = id;
        Server = server;
    }

    public string Id { get; }

    public ServerVersion Server { get; }

    /// <summary>The database's size on disk, once <see cref="ReadFactsAsync"/> has run.</summary>
    public long SizeBytes { get; private set; }

    /// <summary>The extensions installed in the source, once <see cref="ReadFactsAsync"/> has run.</summary>
    public IReadOnlyList<ExtensionInfo> Extensions { get; private set; } = [];

    /// <summary>Which database this is, to refuse a target that is the same one; null when the server does not say.</summary>
    public DatabaseIdentity? Identity { get; private init; }

    public IReadOnlyList<CopyTable> Tables
    {
        get;
        private set
        {
            field = value;
            _byOid = null;
        }
    } = [];

    private Dictionary<uint, CopyTable>? _byOid;

    /// <summary>The copied table of that oid, or null.</summary>
    public CopyTable? Table(uint oid) => (_byOid ??= Tables.ToDictionary(t => t.Oid)).GetValueOrDefault(oid);

    /// <summary>Index oid → table oid, and constraint oid → table oid: to tell which table a post-data entry belongs to.</summary>
    public IReadOnlyDictionary<uint, uint> IndexTables { get; private set; } = new Dictionary<uint, uint>();

    public IReadOnlyDictionary<uint, uint> ConstraintTables { get; private set; } = new Dictionary<uint, uint>();

    /// <summary>Primary key and unique constraints by oid, with their index's definition.</summary>
    public IReadOnlyDictionary<uint, KeyConstraint> KeyConstraints { get; private set; } = new Dictionary<uint, KeyConstraint>();

    public IReadOnlyList<uint> LargeObjects { get; private set; } = [];

    public long LargeObjectBytes { get; private set; }

    /// <summary>
    /// Opens the coordinator's session and its snapshot, with as little as possible before it: the schema's dump
    /// waits for <see cref="Id"/>. The rest is read in the snapshot afterwards (<see cref="ReadFactsAsync"/>,
    /// <see cref="ReadCatalogAsync"/>), while the dump runs.
    /// </summary>
    /// <param name="existing">A snapshot exported elsewhere (a replication slot's) to read in, instead of a new one.</param>
    public static async Task<SourceSnapshot> OpenAsync(PgConnectionInfo source, CancellationToken cancellationToken, string? existing = null)
    {
        var conn = await CopySessions.OpenAsync(source, "source", cancellationToken);
        try
        {
            var server = await ServerVersion.ReadAsync(conn, cancellationToken);
            // Before the transaction: where pg_control_system() is not granted, the failed read must not end it.
            var identity = await DatabaseIdentity.TryReadAsync(conn, cancellationToken);
            // The transaction idles while the readers work: the source's idle timeout must not end it.
            await Db.ExecuteAsync(conn, "SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cancellationToken);
            if (existing is not null)
            {
                await Db.ExecuteAsync(conn, $"SET TRANSACTION SNAPSHOT {Db.Literal(existing)}", cancellationToken);
            }

            var id = existing ?? await Db.ScalarAsync<string>(conn, "SELECT pg_export_snapshot()", cancellationToken)
                ?? throw new PgRelocateException("The source did not export a snapshot.");
            return new SourceSnapshot(conn, id, server) { Identity = identity };
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>How far the source is (<see cref="Connections.RoundTrip"/>), once <see cref="ReadFactsAsync"/> has run.</summary>
    public TimeSpan RoundTrip { get; private set; }

    /// <summary>The database's size and its extensions, read in the snapshot: what the target is checked against. And how far the source is.</summary>
    public async Task ReadFactsAsync(CancellationToken cancellationToken)
    {
        // The catalog reads from here on, while the schema is dumped: a server with JIT on would compile them (Db.WithoutJit).
        await Db.WithoutJitAsync(_conn, cancellationToken);
        SizeBytes = await DatabaseFacts.SizeAsync(_conn, cancellationToken);
        Extensions = await Catalog.Extensions.InstalledAsync(_conn, cancellationToken);
        RoundTrip = await Connections.RoundTrip.MeasureAsync(_conn, cancellationToken);
    }

    /// <summary>Each user sequence's value and is_called, read in the snapshot's session (see <see cref="SequenceSync"/>).</summary>
    public Task<IReadOnlyList<SequenceValue>> ReadSequencesAsync(CancellationToken cancellationToken) => SequenceSync.ReadAsync(_conn, cancellationToken);

    /// <summary>Leaves tables out of the copy (configuration tables the target's login role may not write).</summary>
    public void LeaveOut(IReadOnlySet<uint> oids) => Tables = [.. Tables.Where(t => !oids.Contains(t.Oid))];

    /// <summary>Ends the snapshot's transaction: call once every reader is done.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken) => await Db.ExecuteAsync(_conn, "COMMIT", cancellationToken);

    public ValueTask DisposeAsync() => _conn.DisposeAsync();

    /// <summary>The tables whose rows are copied (see <see cref="TablesSql"/>), without their sizes, as the session sees them.</summary>
    internal static async Task<List<CopyTable>> ReadTablesAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var tables = new List<CopyTable>();
        await using var cmd = new NpgsqlCommand(TablesSql, conn);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            var columns = r.GetFieldValue<string[]>(3).Select(Db.Ident).ToList();
            tables.Add(new CopyTable(r.GetFieldValue<uint>(0), r.GetString(1), r.GetString(2), columns, 0, 0, (long)Math.Max(0, r.GetFloat(4)))
            {
                Binary = r.GetBoolean(5),
                ConfigCondition = r.GetBoolean(6) ? (r.IsDBNull(7) ? "" : r.GetString(7)) : null,
            });
        }

        return tables;
    }

    /// <summary>
    /// Reads, in the snapshot, the tables to copy (locked first), their sizes, their indexes' and constraints' oids,
    /// and the large objects: until then <see cref="Tables"/> is empty. At thousands of tables this takes seconds (a
    /// size is a file's), so the schema's dump, which needs only <see cref="Id"/>, runs meanwhile.
    /// </summary>
    /// <param name="lockTables">
    /// False for a copy that yields: no lock is kept, the sizes are read in a savepoint rolled back after (measuring a
    /// table locks it); a table rewritten since is found by its reader (<see cref="CopyYield"/>).
    /// </param>
    public async Task ReadCatalogAsync(CancellationToken cancellationToken, bool lockTables = true)
    {
        var tables = await ReadTablesAsync(_conn, cancellationToken);

        // Lock first, measure after: a size read before the lock could belong to a table about to be rewritten.
        foreach (var batch in lockTables ? tables.Chunk(500) : [])
        {
            await Db.ExecuteAsync(_conn, $"LOCK TABLE {string.Join(", ", batch.Select(t => "ONLY " + t.Qualified))} IN ACCESS SHARE MODE", cancellationToken);
        }

        if (!lockTables)
        {
            await Db.ExecuteAsync(_conn, "SAVEPOINT pgrelocate_sizes", cancellationToken);
        }

        var sizes = new Dictionary<uint, (long Heap, long Total)>();
        await using (var cmd = new NpgsqlCommand(SizesSql, _conn))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                sizes[r.GetFieldValue<uint>(0)] = (r.GetInt64(1), r.GetInt64(2));
            }
        }

        if (!lockTables)
        {
            await Db.ExecuteAsync(_conn, "ROLLBACK TO SAVEPOINT pgrelocate_sizes; RELEASE SAVEPOINT pgrelocate_sizes", cancellationToken);
        }

        Tables = tables
            .Select(t => sizes.TryGetValue(t.Oid, out var s) ? t with { HeapBytes = s.Heap, TotalBytes = s.Total } : t)
            .OrderByDescending(t => t.TotalBytes).ThenBy(t => t.Display, StringComparer.Ordinal)
            .ToList();
        IndexTables = await PairsAsync("SELECT indexrelid, indrelid FROM pg_index", cancellationToken);
        ConstraintTables = await PairsAsync("SELECT oid, conrelid FROM pg_constraint WHERE conrelid <> 0", cancellationToken);

        var keys = new Dictionary<uint, KeyConstraint>();
        // Empty search_path: the definitions are qualified, as pg_dump's are, for the target's sessions.
        await Db.ExecuteAsync(_conn, "SELECT pg_catalog.set_config('search_path', '', true)", cancellationToken);
        await using (var cmd = new NpgsqlCommand(KeyConstraintsSql, _conn))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                var k = new KeyConstraint(r.GetFieldValue<uint>(0), r.GetString(1), r.GetBoolean(2), r.GetBoolean(3), r.GetBoolean(4), r.GetString(5), r.GetString(6));
                keys[k.Oid] = k;
            }
        }

        KeyConstraints = keys;

        var oids = new List<uint>();
        await using (var cmd = new NpgsqlCommand("SELECT oid FROM pg_largeobject_metadata ORDER BY oid", _conn))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                oids.Add(r.GetFieldValue<uint>(0));
            }
        }

        LargeObjects = oids;
        if (oids.Count > 0)
        {
            LargeObjectBytes = await Db.ScalarAsync<long>(_conn, "SELECT pg_relation_size('pg_catalog.pg_largeobject')", cancellationToken);
        }
    }

    private async Task<Dictionary<uint, uint>> PairsAsync(string sql, CancellationToken cancellationToken)
    {
        var map = new Dictionary<uint, uint>();
        await using var cmd = new NpgsqlCommand(sql, _conn);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            map[r.GetFieldValue<uint>(0)] = r.GetFieldValue<uint>(1);
        }

        return map;
    }

    /// <summary>
    /// The tables pg_dump dumps the rows of: ordinary tables, leaf partitions and inheritance children
    /// (relkind r), outside the system schemas, not members of an extension. Generated columns are left out.
    /// binary_safe is false when a column is an array or composite of a type created in the database (an
    /// enum, an extension's type): their binary form carries the source's type oids, which the target's
    /// differ from and refuse, so those tables travel in text format.
    /// </summary>
    private static readonly string TablesSql = CatalogSql.Load("Copy/SnapshotTables.sql");

    /// <summary>
    /// Each table's heap, and an estimate of the work its copy causes: rows plus index builds, a GIN or GiST
    /// index weighing several times its size (Catalog/IndexWeight.sql: a GIN build over jsonb takes about six
    /// times as long per byte as a B-tree's). The tables at the head of the longest chains go first. The heap and its
    /// TOAST are measured (the heap's pages are split into ranges); the indexes' sizes are the catalog's, as of
    /// their last build, VACUUM or ANALYZE: they only order the work, and measuring them opened every index,
    /// half this read's time at 1,000 tables (2,000 indexes).
    /// </summary>
    private static readonly string SizesSql = CatalogSql.Load("Copy/SnapshotSizes.sql");

    private static readonly string KeyConstraintsSql = CatalogSql.Load("Copy/KeyConstraints.sql");

    internal static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}

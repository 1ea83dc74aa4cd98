using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>An installed extension and its version.</summary>
public sealed record ExtensionInfo(string Name, string Version, string Schema);

/// <summary>A table with the planner's estimates of its rows (reltuples; -1 when never analyzed) and size (pages, heap and TOAST).</summary>
public sealed record TableEstimate(string Schema, string Name, long EstimatedRows, long EstimatedBytes);

/// <summary>What the manifest, the progress bars and the checks need to know about a database.</summary>
public sealed record DatabaseFacts(
    string ServerVersion,
    int ServerVersionNum,
    long SizeBytes,
    IReadOnlyList<ExtensionInfo> Extensions,
    IReadOnlyList<TableEstimate> Tables,
    long LargeObjects)
{
    public int ServerMajor => ServerVersionNum / 10000;

    public static async Task<DatabaseFacts> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var version = await Db.ScalarAsync<string>(conn, "SHOW server_version", cancellationToken) ?? "";
        var versionNum = int.Parse(await Db.ScalarAsync<string>(conn, "SHOW server_version_num", cancellationToken) ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var size = await Db.ScalarAsync<long>(conn, "SELECT pg_database_size(current_database())", cancellationToken);
        var los = await Db.ScalarAsync<long>(conn, "SELECT count(*) FROM pg_largeobject_metadata", cancellationToken);

        var extensions = new List<ExtensionInfo>();
        await using (var cmd = new NpgsqlCommand("SELECT e.extname, e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1", conn))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                extensions.Add(new ExtensionInfo(r.GetString(0), r.GetString(1), r.GetString(2)));
            }
        }

        var tables = new List<TableEstimate>();
        await using (var cmd = new NpgsqlCommand(UserTablesSql, conn))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                tables.Add(new TableEstimate(r.GetString(0), r.GetString(1), (long)r.GetFloat(2), r.GetInt64(3)));
            }
        }

        return new DatabaseFacts(version, versionNum, size, extensions, tables, los);
    }

    /// <summary>
    /// Ordinary tables that hold data of their own (partitions included, partitioned parents excluded),
    /// outside the system schemas and not members of an extension: the tables pg_dump dumps the data of.
    /// Sizes come from the catalog, not pg_total_relation_size: that one takes a lock on every table and
    /// would hang behind any session holding an exclusive lock.
    /// </summary>
    internal const string UserTablesSql = """
        SELECT n.nspname, c.relname, c.reltuples,
               (c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint AS bytes
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
        WHERE c.relkind = 'r'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY bytes DESC, 1, 2
        """;
}

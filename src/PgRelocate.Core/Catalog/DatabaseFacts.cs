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
        var version = await Catalog.ServerVersion.ReadAsync(conn, cancellationToken);
        var size = await SizeAsync(conn, cancellationToken);
        var los = await Db.ScalarAsync<long>(conn, "SELECT count(*) FROM pg_largeobject_metadata", cancellationToken);
        var extensions = await Catalog.Extensions.InstalledAsync(conn, cancellationToken);

        var tables = new List<TableEstimate>();
        await using (var cmd = new NpgsqlCommand(UserTablesSql, conn))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                tables.Add(new TableEstimate(r.GetString(0), r.GetString(1), (long)r.GetFloat(2), r.GetInt64(3)));
            }
        }

        return new DatabaseFacts(version.Text, version.Number, size, extensions, tables, los);
    }

    /// <summary>
    /// What a custom-format dump of <paramref name="tableBytes"/> of table data is estimated to weigh: compressed,
    /// text and numbers usually shrink to a third or less; at --compress 0, about their size.
    /// </summary>
    public static long DumpBytes(long tableBytes, int? compression = null) => compression == 0 ? tableBytes : tableBytes / 3;

    /// <summary>The estimate of <see cref="DumpBytes"/> for these tables (their sizes as of their last VACUUM or ANALYZE).</summary>
    public long EstimatedDumpBytes(int? compression) => DumpBytes(Tables.Sum(t => t.EstimatedBytes), compression);

    /// <summary>The current database's size on disk (pg_database_size): every relation's files, the catalogs' too.</summary>
    public static Task<long> SizeAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ScalarAsync<long>(conn, "SELECT pg_database_size(current_database())", cancellationToken);

    /// <summary>The user tables (UserTables.sql) with their estimated rows and bytes, largest first.</summary>
    internal static string UserTablesSql => CatalogSql.Load("TableEstimates.sql");
}

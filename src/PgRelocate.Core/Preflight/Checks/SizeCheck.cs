using System.Globalization;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// How big the database is, its ten largest tables, and what the dump will weigh. Dump and restore suits
/// databases under about 100 GB; above that the downtime is measured in many hours.
/// </summary>
public sealed class SizeCheck(long thresholdBytes = SizeCheck.DefaultThresholdBytes) : IPreflightCheck
{
    public const long DefaultThresholdBytes = 100_000_000_000;

    public string Name => "size";

    // pg_table_size counts heap and TOAST but not indexes: what COPY reads, about what the dump holds uncompressed.
    // The user's tables and materialized views (an extension's are made again by CREATE EXTENSION, not dumped).
    private static readonly string TotalsSql = CatalogSql.Expand("""
        SELECT pg_database_size(current_database()),
               coalesce(sum(pg_table_size(c.oid)), 0)::bigint
        FROM pg_class c
        WHERE c.relkind IN ('r', 'm') AND c.oid IN ({{user_relations}})
        """);

    private static readonly string LargestSql = CatalogSql.Expand("""
        SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND c.oid IN ({{user_relations}})
        ORDER BY 2 DESC, 1
        LIMIT 10
        """);

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var (database, tables) = await Db.SingleAsync(context.Source, TotalsSql, r => (r.GetInt64(0), r.GetInt64(1)), cancellationToken);
        var largest = await Db.ListAsync(context.Source, LargestSql, r => (Name: r.GetString(0), Bytes: r.GetInt64(1), Rows: r.GetInt64(2)), cancellationToken);
        var details = largest.Select(t => $"{t.Name}: {Units.Bytes(t.Bytes)}, {Rows(t.Rows)}").ToList();
        // A custom-format dump is compressed; text and numbers usually shrink to a third or less.
        var found = $"database {Units.Bytes(database)}; table data without indexes {Units.Bytes(tables)}; " +
                    $"dump estimated at {Units.Bytes(tables / 3)} compressed (at most {Units.Bytes(tables)}).";
        var result = database > thresholdBytes
            ? CheckResult.Warn(Name, found,
                $"Above {Units.Bytes(thresholdBytes)} dump and restore means many hours of downtime: consider a replication-based migration (logical replication) instead.")
            : CheckResult.Ok(Name, found);
        return [result with { Details = details }];
    }

    // reltuples is -1 (PostgreSQL 14+) or 0 for a table never vacuumed or analyzed.
    private static string Rows(long estimate) =>
        estimate > 0 ? string.Create(CultureInfo.InvariantCulture, $"~{estimate:N0} rows") : "rows not estimated yet (never analyzed)";
}

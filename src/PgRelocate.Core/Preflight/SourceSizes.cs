using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight;

/// <summary>One of the source's user tables or materialized views with its size: heap and TOAST, and with its indexes.</summary>
internal sealed record RelationSize(string Schema, string Name, bool IsTable, long TableBytes, long TotalBytes, long EstimatedRows);

/// <summary>
/// The sizes of the source's user tables and materialized views, read once for every check that needs them (the
/// size check's totals and largest tables, the downtime estimate's data and the table it samples). A size is read
/// from the files of each table, its TOAST and its indexes: at 5,000 tables each reading took more than a second,
/// and the checks read them four times.
/// </summary>
internal static class SourceSizes
{
    // The heap's and its TOAST's data files, measured: what COPY reads, about what the dump holds uncompressed (not
    // their free space and visibility maps, which pg_table_size adds: at 1,000 small tables more than their rows).
    // The indexes' sizes are the catalog's, as of their last build, VACUUM or ANALYZE, as the copy reads them:
    // measuring them opened every index file, and with the maps this read took 98 ms of the source at 1,000 tables
    // (2,000 indexes) where it takes 32 ms, beside a migration's copy as it starts.
    // The user's tables and materialized views (an extension's are made again by CREATE EXTENSION, not dumped).
    private static readonly string Sql = CatalogSql.Load("Preflight/SourceSizes.sql");

    /// <summary>The sizes, read once: by <see cref="ReadAheadAsync"/> when it was started and could open its session, else on the check's.</summary>
    public static Task<IReadOnlyList<RelationSize>> ReadAsync(PreflightContext context, CancellationToken cancellationToken) =>
        context.Once(nameof(SourceSizes), async () =>
            context.SizesAhead is { } ahead && await ahead is { } read ? read : await ReadAsync(context.Source, cancellationToken));

    /// <summary>Whether <paramref name="check"/> reads the sizes (then they are worth reading ahead).</summary>
    public static bool NeededBy(IPreflightCheck check) => check is Checks.SizeCheck or Checks.DowntimeCheck;

    /// <summary>
    /// Reads the sizes in a session of its own, with the checks' lock timeout. Null when that session cannot be opened
    /// (no free connection slot, say): the checks' own session reads them then. A failed read is the check's failure,
    /// as it would have been on the checks' session.
    /// </summary>
    public static async Task<IReadOnlyList<RelationSize>?> ReadAheadAsync(PgConnectionInfo source, CancellationToken cancellationToken)
    {
        Npgsql.NpgsqlConnection conn;
        try
        {
            conn = await Db.OpenAsync(source, "source", cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }

        await using (conn)
        {
            await PreflightRunner.LimitLockWaitsAsync(conn, cancellationToken);
            return await ReadAsync(conn, cancellationToken);
        }
    }

    private static async Task<IReadOnlyList<RelationSize>> ReadAsync(Npgsql.NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await Db.ListAsync(
            conn,
            Sql,
            r => new RelationSize(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5)),
            cancellationToken);
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Verify;

/// <summary>Compares one table's contents on both sides, then locates the differing rows when it can.</summary>
internal sealed class TableChecker(Sessions source, Sessions target, VerifyOptions options)
{
    /// <summary>A table's row count and digest on one side.</summary>
    internal readonly record struct Digest(long Rows, string? Sum);

    /// <summary>A table of at most this many bytes (the catalog's estimate) is compared in a batch: see <see cref="CheckSmallAsync"/>.</summary>
    public const long SmallTableBytes = 64 * 1024;

    /// <summary>How many small tables one query compares.</summary>
    public const int SmallTablesPerBatch = 50;

    /// <summary>How long a batch waits for a table's lock before it lets go of those it holds and compares its tables one by one.</summary>
    private const int BatchLockWaitMs = 200;

    public async Task<TableResult> CheckAsync(TableInfo table, CancellationToken cancellationToken)
    {
        var sql = $"SELECT {Aggregates(table)} FROM ONLY {table.Sql} t";
        var digests = await Task.WhenAll(
            DigestAsync(source, table, sql, cancellationToken),
            DigestAsync(target, table, sql, cancellationToken));
        return await CompareAsync(table, digests[0], digests[1], cancellationToken);
    }

    /// <summary>
    /// Small tables (a few pages each, the many tables of a large schema) in one query per side: a round trip
    /// and a transaction per table cost more than reading it. The query reads them one after another, holding
    /// the share lock of each it has read until it ends, so it never waits long for one (an application that
    /// truncates several tables in one transaction could otherwise deadlock with it): on a lock wait, a table
    /// it may not read, or a table that differs, the tables are compared alone (which also names the rows).
    /// </summary>
    public async Task<List<TableResult>> CheckSmallAsync(IReadOnlyList<TableInfo> tables, CancellationToken cancellationToken)
    {
        var sql = string.Join(" UNION ALL ", tables.Select((t, i) => $"SELECT {i}, {Aggregates(t)} FROM ONLY {t.Sql} t"));
        var digests = await Task.WhenAll(BatchAsync(source, sql, tables.Count, cancellationToken), BatchAsync(target, sql, tables.Count, cancellationToken));
        var results = new List<TableResult>();
        for (var i = 0; i < tables.Count; i++)
        {
            results.Add(digests[0] is { } s && digests[1] is { } t
                ? await CompareAsync(tables[i], s[i], t[i], cancellationToken)
                : await CheckAsync(tables[i], cancellationToken));
        }

        return results;
    }

    /// <summary>
    /// The count and, in checksums mode, an order-independent sum of 64-bit row hashes, in one sequential scan (a
    /// multiset digest, so tables without a key and duplicated rows work; sum(bigint) accumulates exactly).
    /// </summary>
    private string Aggregates(TableInfo table) => options.Mode == VerifyMode.Counts
        ? "count(*), NULL::text"
        : $"count(*), coalesce(sum({table.RowHash}), 0)::text";

    private async Task<TableResult> CompareAsync(TableInfo table, Digest s, Digest t, CancellationToken cancellationToken)
    {
        var equal = s == t;
        var result = new TableResult
        {
            Name = table.Display,
            SourceRows = s.Rows,
            TargetRows = t.Rows,
            SourceDigest = s.Sum,
            TargetDigest = t.Sum,
            Equal = equal,
            Key = table.Key,
        };
        if (equal)
        {
            return result;
        }

        if (options.Mode == VerifyMode.Counts)
        {
            return result with { Note = "row counts differ; run with --mode checksums to list the differing rows" };
        }

        if (table.Key is null)
        {
            return result with { Note = "the table has no primary key or unique not-null key: differing rows cannot be named" };
        }

        var locator = new RowLocator(source, target, table, options);
        var (rows, truncated) = await locator.LocateAsync(s, t, cancellationToken);
        return result with { Rows = rows, RowsTruncated = truncated };
    }

    private static async Task<Digest> DigestAsync(Sessions side, TableInfo table, string sql, CancellationToken cancellationToken)
    {
        await using var lease = await side.RentAsync(cancellationToken);
        try
        {
            await using var cmd = new NpgsqlCommand(sql, lease.Connection);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return new Digest(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1));
        }
        catch (PostgresException e)
        {
            throw Failed(side, table, e);
        }
    }

    /// <summary>Each table's digest on one side, by position; null when the batch met a lock or an error (the caller then reads each table alone).</summary>
    private static async Task<Digest[]?> BatchAsync(Sessions side, string sql, int count, CancellationToken cancellationToken)
    {
        await using var lease = await side.RentAsync(cancellationToken, BatchLockWaitMs);
        try
        {
            var digests = new Digest[count];
            await using var cmd = new NpgsqlCommand(sql, lease.Connection);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                digests[reader.GetInt32(0)] = new Digest(reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2));
            }

            return digests;
        }
        catch (PostgresException)
        {
            return null;
        }
    }

    internal static PgRelocateException Failed(Sessions side, TableInfo table, PostgresException e) =>
        new($"Reading table {table.Display} on the {side.Side} failed: {e.MessageText} ({e.SqlState}).{Db.HintOf(e)} " +
            (e.SqlState == PostgresErrorCodes.InsufficientPrivilege ? "Grant the login SELECT on it, or leave it out with --tables." : "Check the table on that server."),
            ExitCode.Failed, e);
}

using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Verify;

/// <summary>Compares one table's contents on both sides, then locates the differing rows when it can.</summary>
internal sealed class TableChecker(Sessions source, Sessions target, VerifyOptions options)
{
    /// <summary>A table's row count and digest on one side.</summary>
    internal readonly record struct Digest(long Rows, string? Sum);

    public async Task<TableResult> CheckAsync(TableInfo table, CancellationToken cancellationToken)
    {
        var sql = options.Mode == VerifyMode.Counts
            ? $"SELECT count(*), NULL::text FROM ONLY {table.Sql} t"
            // One sequential scan: count plus an order-independent sum of 64-bit row hashes (a multiset
            // digest, so tables without a key and duplicated rows work). sum(bigint) accumulates exactly.
            : $"SELECT count(*), coalesce(sum({table.RowHash}), 0)::text FROM ONLY {table.Sql} t";
        var digests = await Task.WhenAll(
            DigestAsync(source, table, sql, cancellationToken),
            DigestAsync(target, table, sql, cancellationToken));
        var (s, t) = (digests[0], digests[1]);
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

    internal static PgRelocateException Failed(Sessions side, TableInfo table, PostgresException e) =>
        new($"Reading table {table.Display} on the {side.Side} failed: {e.MessageText} ({e.SqlState}). " +
            (e.SqlState == "42501" ? "Grant the login SELECT on it, or leave it out with --tables." : "Check the table on that server."),
            ExitCode.Failed, e);
}

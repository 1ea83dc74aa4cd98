using System.Globalization;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Verify;

/// <summary>
/// Runs a user's query on both sides, in read-only sessions with the same rendering settings, and compares
/// the results: in order when the query has its own ORDER BY, as multisets otherwise.
/// </summary>
internal static class QueryComparer
{
    public static async Task<QueryResult> CompareAsync(string query, VerifyOptions options, CancellationToken cancellationToken)
    {
        var ordered = SqlText.HasTopLevelOrderBy(query);
        var runs = await Task.WhenAll(
            RunAsync(options.Source, "source", query, cancellationToken),
            RunAsync(options.Target, "target", query, cancellationToken));
        var (s, t) = (runs[0], runs[1]);
        if (s.Error is not null && t.Error is not null)
        {
            throw new UsageException($"The query failed on both sides: {s.Error}. Fix the query: {Shorten(query)}");
        }

        if (s.Error is not null || t.Error is not null)
        {
            return new QueryResult
            {
                Query = query,
                Ordered = ordered,
                SourceRows = s.Rows.Count,
                TargetRows = t.Rows.Count,
                Equal = false,
                Error = s.Error is not null ? $"source: {s.Error}" : $"target: {t.Error}",
            };
        }

        var differences = ordered ? CompareInOrder(s.Rows, t.Rows, options.MaxRows) : CompareAsMultisets(s.Rows, t.Rows, options.MaxRows);
        return new QueryResult
        {
            Query = query,
            Ordered = ordered,
            SourceRows = s.Rows.Count,
            TargetRows = t.Rows.Count,
            Equal = differences.Count == 0,
            Rows = [.. differences.Select(d => d with { Source = Truncate(d.Source, options), Target = Truncate(d.Target, options) })],
        };
    }

    private static List<QueryRowDifference> CompareInOrder(List<string> s, List<string> t, int max)
    {
        var differences = new List<QueryRowDifference>();
        for (var i = 0; i < Math.Max(s.Count, t.Count) && differences.Count < max; i++)
        {
            var a = i < s.Count ? s[i] : null;
            var b = i < t.Count ? t[i] : null;
            if (!string.Equals(a, b, StringComparison.Ordinal))
            {
                differences.Add(new QueryRowDifference(i + 1, a, b));
            }
        }

        return differences;
    }

    private static List<QueryRowDifference> CompareAsMultisets(List<string> s, List<string> t, int max)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var row in s)
        {
            counts[row] = counts.GetValueOrDefault(row) + 1;
        }

        foreach (var row in t)
        {
            counts[row] = counts.GetValueOrDefault(row) - 1;
        }

        var differences = new List<QueryRowDifference>();
        foreach (var (row, n) in counts)
        {
            for (var k = 0; k < Math.Abs(n) && differences.Count < max; k++)
            {
                differences.Add(n > 0 ? new QueryRowDifference(null, row, null) : new QueryRowDifference(null, null, row));
            }
        }

        return differences;
    }

    private sealed record Run(List<string> Rows, string? Error);

    /// <summary>
    /// The query's rows rendered by the server as row literals, so every type compares as text. Wrapping
    /// the query keeps its own ORDER BY: PostgreSQL scans a sorted subquery in order.
    /// </summary>
    private static async Task<Run> RunAsync(PgRelocate.Connections.PgConnectionInfo info, string side, string query, CancellationToken cancellationToken)
    {
        await using var conn = await Sessions.OpenAsync(info.WithApplicationName(Sessions.ApplicationName), side, cancellationToken);
        var rows = new List<string>();
        try
        {
            await using var cmd = new NpgsqlCommand($"SELECT q::text FROM ({query.TrimEnd().TrimEnd(';')}\n) q", conn);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(reader.IsDBNull(0) ? "" : reader.GetString(0));
            }

            return new Run(rows, null);
        }
        catch (PostgresException e)
        {
            return new Run(rows, $"{e.MessageText} ({e.SqlState})");
        }
    }

    private static string? Truncate(string? value, VerifyOptions options) =>
        value is not null && value.Length > options.MaxValueLength
            ? string.Create(CultureInfo.InvariantCulture, $"{value[..options.MaxValueLength]}... ({value.Length} characters)")
            : value;

    private static string Shorten(string query)
    {
        var oneLine = string.Join(' ', query.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim();
        return oneLine.Length > 80 ? oneLine[..77] + "..." : oneLine;
    }
}

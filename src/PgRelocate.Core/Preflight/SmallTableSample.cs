using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Copy;

namespace PgRelocate.Preflight;

/// <summary>
/// What one small table costs the copy (<see cref="SmallTables"/>: a few pages, copied in batches), sampled on the
/// source's own small tables: each copied whole into a scratch table of the target as a lane does, given as many
/// B-trees as it has indexes, and analyzed. A small table's time is its fixed costs (each statement's start, its
/// locks, its index's pages), not its bytes: the lane's rate, measured on the largest table, would count a table of
/// one page as one page's bytes and miss them.
/// </summary>
internal static class SmallTableSample
{
    /// <summary>At most this many small tables are sampled, spread over them all in the order of their names.</summary>
    public const int Most = 20;

    /// <summary>The most one sampled table's rows are given: a small table is copied within milliseconds.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The mean seconds per small table over the sample, in the transaction <paramref name="target"/> has open (its
    /// scratch tables go when it is rolled back); null when none could be sampled (the basis says why).
    /// </summary>
    public static async Task<double?> MeasureAsync(NpgsqlConnection source, NpgsqlConnection target, IReadOnlyList<EstimateTable> tables, List<string> basis, CancellationToken cancellationToken)
    {
        var small = tables.Where(t => t.IsSmall).OrderBy(t => t.Qualified, StringComparer.Ordinal).ToList();
        if (small.Count == 0)
        {
            return null;
        }

        var step = Math.Max(1, small.Count / Most);
        var took = TimeSpan.Zero;
        var (tried, sampled) = (0, 0);
        foreach (var table in small.Where((_, i) => i % step == 0))
        {
            if (sampled == Most)
            {
                break;
            }

            tried++;
            var columns = await EstimateColumns.ReadAsync(source, table, cancellationToken);
            if (columns.Count == 0)
            {
                continue;
            }

            // A table this sample cannot take (its first column without a B-tree, its rows not readable) is left out.
            var scratch = Db.Qualified(ToolSchema.Name, $"estimate_small_{sampled}");
            await Db.ExecuteAsync(target, "SAVEPOINT estimate_small", cancellationToken);
            try
            {
                await Db.ExecuteAsync(target, $"CREATE TABLE {scratch} ({string.Join(", ", columns.Select(c => Db.Ident(c.Name) + " " + c.Type))})", cancellationToken);
                var started = Stopwatch.GetTimestamp();
                await EstimateSample.MoveAsync(source, table, [.. columns.Select(c => c.Name)], target, scratch, 0, Limit, cancellationToken);
                var indexes = string.Concat(table.IndexKinds.Select(_ => $"CREATE INDEX ON {scratch} ({Db.Ident(columns[0].Name)}); "));
                await Db.ExecuteAsync(target, indexes + $"ANALYZE {scratch}", cancellationToken);
                took += Stopwatch.GetElapsedTime(started);
                sampled++;
            }
            catch (PostgresException)
            {
                await Db.ExecuteAsync(target, "ROLLBACK TO SAVEPOINT estimate_small", cancellationToken);
            }
        }

        if (sampled == 0)
        {
            basis.Add($"small tables: not measured, none of the {tried} tried of the {small.Count} could be written to a scratch table (no column of a built-in type, none a B-tree takes, or rows not readable); counted by their bytes.");
            return null;
        }

        var each = took.TotalSeconds / sampled;
        basis.Add(string.Create(CultureInfo.InvariantCulture, $"small tables: {sampled} of the {small.Count} of at most {SmallTables.MaxBytes / 1024} kB copied into scratch tables, each with its indexes as B-trees and ANALYZE, {each * 1000:0.##} ms each; every small table counted at that cost."));
        return each;
    }
}

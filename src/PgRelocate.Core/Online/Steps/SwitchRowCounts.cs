using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Online.Follow;

namespace PgRelocate.Online.Steps;

/// <summary>
/// The switch's last check of the rows: exact row counts of the tables the follow changed, on both sides, once every
/// change the source committed is applied. Bounded by what the counts read (<see cref="MaxCountedBytes"/>, the
/// tables' files, a partitioned table's partitions included), so the write downtime does not grow with the database:
/// the verification while following compared every row already. It runs on the switch's own sessions
/// (<see cref="SwitchSessions"/>) while the schema's fingerprints are read on sessions of their own (catalog reads,
/// which take no lock the counts wait for), and before anything changes a table on the target again.
/// </summary>
internal static class SwitchRowCounts
{
    /// <summary>
    /// The most bytes of tables (the larger side's) the final check counts, a few hundredths of a second: a million
    /// rows took half a second of a 1.5 s write downtime under load, and a few hundred rows of a table updated all the
    /// time can fill thousands of pages. Sizes, not the planner's row estimates: a count reads pages.
    /// </summary>
    private const long MaxCountedBytes = 16L << 20;

    /// <summary>The most tables one statement counts: each holds a lock until the statement ends.</summary>
    private const int TablesAStatement = 100;

    /// <summary>
    /// Counts the tables the follow changed (the target records every one, over all its runs, a killed one's too),
    /// the smallest first, and stops the switch on a difference.
    /// </summary>
    /// <returns>The tables the follow changed, and how many of them were counted.</returns>
    /// <exception cref="PgRelocateException">A table's counts differ: the target is not switched.</exception>
    public static async Task<(List<string> Changed, int Counted)> CheckAsync(Follower follower, NpgsqlConnection source, NpgsqlConnection target, CancellationToken cancellationToken)
    {
        // The tool's schema is there: the follow has just applied the last changes into it (a follow without it stops at its start).
        var changed = (await TargetState.ChangedTablesAsync(target, cancellationToken, there: true)).Concat(follower.ChangedTables).Distinct(StringComparer.Ordinal).ToList();
        var counted = await CountedAsync(source, target, changed, cancellationToken);
        var differing = new List<string>();
        foreach (var chunk in counted.Chunk(TablesAStatement))
        {
            var sql = $"SELECT ARRAY[{string.Join(", ", chunk.Select(t => $"(SELECT count(*) FROM {t})"))}]::bigint[]";
            var counts = await Task.WhenAll(Db.ScalarAsync<long[]>(source, sql, cancellationToken), Db.ScalarAsync<long[]>(target, sql, cancellationToken));
            differing.AddRange(chunk.Select((t, i) => (t, i)).Where(c => counts[0]![c.i] != counts[1]![c.i])
                .Select(c => $"{c.t} ({counts[0]![c.i]} rows on the source, {counts[1]![c.i]} on the target)"));
        }

        if (differing.Count > 0)
        {
            throw new PgRelocateException($"After the last changes were applied, row counts differ on {string.Join(", ", differing)}: the target is not switched. The source is made writable again; run 'pgrelocate verify' to see the rows.", ExitCode.Differences);
        }

        return (changed, counted.Count);
    }

    /// <summary>
    /// The tables to count: the smallest first (the larger side's bytes), until <see cref="MaxCountedBytes"/>. A
    /// table the source lacks is left out (dropped there while following: the cutover drops it on the target too).
    /// </summary>
    private static async Task<List<string>> CountedAsync(NpgsqlConnection source, NpgsqlConnection target, IReadOnlyList<string> tables, CancellationToken cancellationToken)
    {
        if (tables.Count == 0)
        {
            return [];
        }

        var sizes = await Task.WhenAll(SizesAsync(source, tables, cancellationToken), SizesAsync(target, tables, cancellationToken));
        var budget = MaxCountedBytes;
        var counted = new List<string>();
        foreach (var (table, bytes) in sizes[0].Select(s => (s.Key, Math.Max(s.Value, sizes[1].GetValueOrDefault(s.Key)))).OrderBy(s => s.Item2).ThenBy(s => s.Key, StringComparer.Ordinal))
        {
            if (bytes > budget)
            {
                break;
            }

            budget -= bytes;
            counted.Add(table);
        }

        return counted;
    }

    private static async Task<Dictionary<string, long>> SizesAsync(NpgsqlConnection conn, IReadOnlyList<string> tables, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(OnlineSql.SwitchCountedSizes, conn);
        cmd.Parameters.Add(new NpgsqlParameter { Value = tables.ToArray() });
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            sizes[r.GetString(0)] = r.GetInt64(1);
        }

        return sizes;
    }
}

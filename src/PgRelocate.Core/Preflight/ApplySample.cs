using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Preflight;

/// <summary>
/// How fast one session on the target applies row changes as the online follow does: rows of the estimate's scratch
/// table, spread over it, each batch of <see cref="BatchRows"/> updated by key in one statement, for half a second or
/// up to <see cref="Batches"/> batches (the keys as a text
/// array joined to the table, its index made to find them, no JIT, as Online/Apply's UPDATEs of many rows run), in the
/// estimate's transaction. A change costs the follow far more than a row costs the copy (a lookup in the key's index
/// and a new row version where the copy appends): catching up under unthrottled pgbench on two cores, 22,000 to 26,000
/// changes a second against the copy's 400,000 rows a second of `pgbench_accounts`, so the catch-up is counted in
/// changes at this rate, not in the WAL's bytes at the copy's.
/// </summary>
internal static class ApplySample
{
    /// <summary>The rows one statement updates, as the apply's batches of held-back UPDATEs go (TargetWrites' TogetherAtMost).</summary>
    internal const int BatchRows = 1_000;

    /// <summary>The batches timed at most, and the fewest before the time below may end them.</summary>
    private const int Batches = 20, FewestBatches = 3;

    /// <summary>
    /// The time after which no more batches are sent: under load one batch takes 25 to 50 ms, and five of them read
    /// 19,800 and 41,800 rows a second in two runs a minute apart.
    /// </summary>
    private static readonly TimeSpan Enough = TimeSpan.FromSeconds(0.5);

    /// <summary>The least rows worth timing.</summary>
    private const long LeastRows = 10_000;

    /// <summary>
    /// Rows updated per second by one session, or null (said in the basis) where the scratch table holds too few rows
    /// or the statement fails. <paramref name="column"/> is the scratch table's first column, of <paramref name="type"/>,
    /// with the B-tree the estimate built on it.
    /// </summary>
    public static async Task<double?> MeasureAsync(NpgsqlConnection target, string scratch, string column, string type, long rows, List<string> basis, CancellationToken cancellationToken)
    {
        if (rows < LeastRows)
        {
            basis.Add("apply: too few rows written to time the follow's updates; its catch-up counted from the WAL's bytes.");
            return null;
        }

        var c = Db.Ident(column);
        await Db.ExecuteAsync(target, "SAVEPOINT estimate_apply", cancellationToken);
        try
        {
            // As the follow's session runs them (TargetWrites): the key's index whatever the statistics say, no JIT
            // (the scratch table has no statistics: the planner costs these statements high enough to compile them).
            // Every setting is undone with the savepoint.
            await Db.ExecuteAsync(target, "SET LOCAL enable_seqscan = off; SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off; " + Db.WithoutJit, cancellationToken);
            // Keys spread over the whole table, as an application's changes fall, not the first pages' alone.
            var percent = Math.Min(100.0, 100.0 * BatchRows * Batches * 2 / rows).ToString("0.####", CultureInfo.InvariantCulture);
            var keys = await Db.ListAsync(target, $"SELECT {c}::text FROM {scratch} TABLESAMPLE BERNOULLI ({percent}) WHERE {c} IS NOT NULL LIMIT {BatchRows * Batches}", r => r.GetString(0), cancellationToken);
            var sql = $"UPDATE {scratch} AS target_row SET {c} = source_row.k::{type} FROM pg_catalog.unnest($1::text[]) AS source_row(k) WHERE target_row.{c} = source_row.k::{type} AND target_row.{c} = ANY ($1::text[]::{type}[])";
            long updated = 0;
            var sent = 0;
            var started = Stopwatch.GetTimestamp();
            foreach (var batch in keys.Chunk(BatchRows))
            {
                await using var cmd = new NpgsqlCommand(sql, target);
                cmd.Parameters.Add(new NpgsqlParameter { Value = batch, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
                updated += await cmd.ExecuteNonQueryAsync(cancellationToken);
                if (++sent >= FewestBatches && Stopwatch.GetElapsedTime(started) >= Enough)
                {
                    break;
                }
            }

            var took = Math.Max(Stopwatch.GetElapsedTime(started).TotalSeconds, 0.001);
            if (updated == 0)
            {
                basis.Add("apply: no rows found by key to time the follow's updates; its catch-up counted from the WAL's bytes.");
                return null;
            }

            basis.Add(string.Create(CultureInfo.InvariantCulture, $"apply: {updated} rows of the scratch table updated by key in batches of {BatchRows}, as the follow applies changes, in {took:0.##} s: {updated / took:0} a second on one session of the target."));
            return updated / took;
        }
        catch (PostgresException e)
        {
            basis.Add($"apply: not measured ({e.MessageText}); the follow's catch-up counted from the WAL's bytes.");
            return null;
        }
        finally
        {
            await Db.ExecuteAsync(target, "ROLLBACK TO SAVEPOINT estimate_apply", cancellationToken);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight;

/// <summary>
/// One foreign key of the source as the estimate sees it: the referencing and the referenced table (their oids, which
/// say which checks touch the same table) and the rows of each (a partitioned table's, its partitions' together).
/// </summary>
public sealed record EstimateForeignKey(long Referencing, long Referenced, long ReferencingRows, long ReferencedRows);

/// <summary>
/// What the foreign keys' checks add to a copy or a restore: every path makes them in its post-data, once the rows are
/// in, and PostgreSQL then reads every row of the referencing table against the referenced table's keys (a hash
/// anti-join, with work_mem raised to maintenance_work_mem and no parallel workers). On two cores, six tables of 0.2
/// to 6 M rows with five foreign keys: the checks took 4.7 s of a 12.2 s copy, 2.7 s for the 6 M rows against 2 M
/// keys alone. The copy and the restore add each foreign key NOT VALID and validate it (Restore/ForeignKeyValidation),
/// which locks the referencing table against its other checks (SHARE UPDATE EXCLUSIVE) and the referenced one only
/// against changes to it: one table's checks run one after another whatever the jobs, the tables referencing one
/// table side by side.
/// A check costs what PostgreSQL's plan for it costs, counted in probes (a referencing row looked up in a hash of the
/// referenced keys): where the referenced keys' hash fits in the check's memory, each key hashed first at
/// <see cref="HashedKey"/> probes and each referencing row probed; where it does not, the referencing rows sorted at
/// <see cref="SortedRow"/> probes each and merged with the referenced key's index, read in order at
/// <see cref="ScannedKey"/> a key; and where there are few referencing rows, each looked up in that index at
/// <see cref="IndexLookup"/>: the cheapest. Measured on the bench's machine (PostgreSQL 15, 256 MB of work_mem):
/// hashed, 6 M rows against 2 M keys 2.7 s and 1.5 M against 6 M 3.4 s (solved: a probe 0.29 µs, a key hashed 0.50
/// µs); merged, 1.5 M rows against 15 M keys 1.5 s (the sort 0.33 s, the index read in order 1.05 s), where hashing
/// them took 10.1 s; looked up, 1.5 M rows in an index of 6 M keys 4.6 s, 20,000 rows 0.07 s. The sample's hash is
/// smaller than a large table's, so a large hashed check is counted short by up to a third.
/// </summary>
internal static class ForeignKeyChecks
{
    /// <summary>What hashing a referenced key, sorting a referencing row, reading a referenced key in its index's order, and looking a referencing row up in that index cost, in probes.</summary>
    internal const double HashedKey = 1.7, SortedRow = 1.1, ScannedKey = 0.3, IndexLookup = 11;

    /// <summary>
    /// The referenced keys a check's hash holds at most: the check's work_mem is its session's maintenance_work_mem,
    /// the copy's 256 MB (<see cref="Copy.CopyOptions.DefaultMaintenanceWorkMem"/>), and a key takes about 50 bytes
    /// of it (2 M bigint keys: 94.5 MB; 15 M int keys: 2 batches of 394 MB).
    /// </summary>
    internal const long HashedKeys = (256L << 20) / 50;

    /// <summary>The most rows of the scratch table the sample checks against themselves: enough to leave the processor's caches, as a large check does.</summary>
    internal const long SampleRows = 1_000_000;

    /// <summary>The least rows worth timing.</summary>
    private const long LeastRows = 1000;

    /// <summary>The source's foreign keys, one for each check (EstimateForeignKeys.sql).</summary>
    public static Task<List<EstimateForeignKey>> ReadAsync(NpgsqlConnection source, CancellationToken cancellationToken) =>
        Db.ListAsync(source, CatalogSql.Load("Preflight/EstimateForeignKeys.sql"), r => new EstimateForeignKey(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)), cancellationToken);

    /// <summary>
    /// A foreign key's check played on the estimate's scratch table, in its transaction: the first rows of its first
    /// column (at most <see cref="SampleRows"/>) checked against themselves as PostgreSQL checks a new foreign key (a
    /// hash anti-join, work_mem at <paramref name="memory"/>, no parallel workers): probes per second, each key of the
    /// sample hashed once and probed once (see <see cref="HashedKey"/>). Null,
    /// said in the basis, where the rows are too few, the column's type has no hashed equality, or the sample fails.
    /// </summary>
    public static async Task<double?> SampleAsync(NpgsqlConnection target, string scratch, string column, long rows, string memory, List<string> basis, CancellationToken cancellationToken)
    {
        if (rows < LeastRows)
        {
            basis.Add("foreign keys' checks: too few rows written to time a check; left out of the copy's time.");
            return null;
        }

        var n = Math.Min(rows, SampleRows);
        var c = Db.Ident(column);
        var sql = $"SELECT 1 FROM (SELECT {c} FROM {scratch} LIMIT {n}) fk LEFT JOIN (SELECT {c} FROM {scratch} LIMIT {n}) pk ON pk.{c} = fk.{c} WHERE pk.{c} IS NULL AND fk.{c} IS NOT NULL LIMIT 1";
        await Db.ExecuteAsync(target, "SAVEPOINT estimate_foreign_key", cancellationToken);
        try
        {
            // As RI_Initial_Check runs it; both scans from the table's start, so every row finds itself and none ends it early.
            await Db.ExecuteAsync(target, $"SET LOCAL work_mem = {Db.Literal(memory)}; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL synchronize_seqscans = off; SET LOCAL enable_mergejoin = off; SET LOCAL enable_nestloop = off; SET LOCAL statement_timeout = '30s'", cancellationToken);
            var plan = string.Join("\n", await Db.ListAsync(target, "EXPLAIN " + sql, r => r.GetString(0), cancellationToken));
            if (!plan.Contains("Hash", StringComparison.Ordinal) || !plan.Contains("Anti Join", StringComparison.Ordinal))
            {
                basis.Add($"foreign keys' checks: not measured, the sample's first column ({column}) has no hashed equality; left out of the copy's time.");
                return null;
            }

            var started = Stopwatch.GetTimestamp();
            await Db.ExecuteAsync(target, sql, cancellationToken);
            var took = Math.Max(Stopwatch.GetElapsedTime(started).TotalSeconds, 0.001);
            basis.Add(string.Create(CultureInfo.InvariantCulture, $"foreign keys' checks: {n} rows of the scratch table checked against themselves as PostgreSQL checks a new foreign key (a hash anti-join) in {took:0.##} s; each check counted in probes at that rate, by the cheapest of PostgreSQL's plans for it (a hash of the referenced keys where it fits, a merge with their index, or each row looked up in it)."));
            return (1 + HashedKey) * n / took;
        }
        catch (PostgresException e)
        {
            basis.Add($"foreign keys' checks: not measured ({e.MessageText}); left out of the copy's time.");
            return null;
        }
        finally
        {
            await Db.ExecuteAsync(target, "ROLLBACK TO SAVEPOINT estimate_foreign_key", cancellationToken);
        }
    }

    /// <summary>A check of <paramref name="referencing"/> rows against <paramref name="referenced"/> keys, in seconds at <paramref name="probes"/> a second: by the cheapest plan.</summary>
    public static double CheckSeconds(long referencing, long referenced, double probes)
    {
        var joined = referenced <= HashedKeys ? referencing + HashedKey * referenced : SortedRow * referencing + ScannedKey * referenced;
        return Math.Min(joined, IndexLookup * referencing) / probes;
    }

    /// <summary>
    /// How long <paramref name="checks"/> (each in seconds alone) take on <paramref name="jobs"/> sessions, played out:
    /// the longest first, each as soon as a session is free and no running check is of the same referencing table.
    /// </summary>
    public static double Seconds(IReadOnlyList<(long Referencing, long Referenced, double Seconds)> checks, int jobs)
    {
        jobs = Math.Max(1, jobs);
        var pending = checks.Where(c => c.Seconds > 0).OrderByDescending(c => c.Seconds).ToList();
        var running = new List<(long A, double End)>();
        var now = 0.0;
        while (pending.Count > 0 || running.Count > 0)
        {
            for (var i = 0; i < pending.Count && running.Count < jobs; i++)
            {
                var (a, _, seconds) = pending[i];
                if (running.Any(r => r.A == a))
                {
                    continue;
                }

                running.Add((a, now + seconds));
                pending.RemoveAt(i--);
            }

            now = running.Min(r => r.End);
            running.RemoveAll(r => r.End <= now);
        }

        return now;
    }
}

using System.Diagnostics;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// The downtime of an offline migration. With the estimate measured before the checks (<see cref="PreflightContext.Estimate"/>),
/// its prediction of the faster offline path, so that a report holds one figure, not two that disagree. Without it
/// (--no-estimate), a rough one of its own: reads the largest table for a moment to measure how fast this machine
/// gets data from the source, scales that to the whole database, and adds the restore, which writes the data again
/// and builds every index: one measured 1.4 GB database took 5.8 s to dump and 34.6 s to restore with one job, so the
/// restore counts six times the dump. The seeds' advice stands: plan for more.
/// Online (<paramref name="online"/>) the same figure is the snapshot copy's, which runs while the applications keep
/// writing; the downtime is the cutover's: the source read-only while the last changes are applied and the sequences
/// set, seconds whatever the size.
/// </summary>
internal sealed class DowntimeCheck(TimeSpan? warnAbove = null, long sampleBytes = 64_000_000, TimeSpan? sampleTime = null, bool online = false) : IPreflightCheck
{
    private const string Cutover = "The write downtime is the cutover's: the source read-only while the last changes are applied and the sequences set, a few seconds whatever the size";

    private const double RestoreFactor = 6.0;

    private readonly TimeSpan _warnAbove = warnAbove ?? TimeSpan.FromHours(4);
    private readonly TimeSpan _sampleTime = sampleTime ?? TimeSpan.FromSeconds(2);

    public string Name => "estimated downtime";

    // The user's tables and materialized views, as SizeCheck counts them (an extension's tables are made again
    // by CREATE EXTENSION: neither dumped nor restored), and the large objects; the table sampled is the largest.
    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        if (context.Estimate is { } estimate)
        {
            return [FromEstimate(estimate)];
        }

        var sizes = await SourceSizes.ReadAsync(context, cancellationToken);
        var data = sizes.Sum(s => s.TableBytes) + await Db.ScalarAsync<long>(context.Source, "SELECT pg_total_relation_size('pg_catalog.pg_largeobject')", cancellationToken);
        var largest = sizes.Where(s => s.IsTable).OrderByDescending(s => s.TableBytes).ThenBy(s => s.Schema, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal)
            .Select(s => (s.Schema, Table: s.Name)).Take(1).ToList();
        if (largest.Count == 0)
        {
            return [CheckResult.Ok(Name, online ? Cutover + "." : "No tables: the dump and restore take moments.")];
        }

        var (bytes, elapsed) = await SampleAsync(context, largest[0].Schema, largest[0].Table, cancellationToken);
        // A table that small says more about round trips than throughput: nothing to scale.
        if (bytes < 1_000_000 || data < 10_000_000)
        {
            return [CheckResult.Ok(Name, online
                ? $"{Cutover}; the copy of {Units.Bytes(data)} of table data takes a few minutes at most, while the applications keep writing."
                : $"{Units.Bytes(data)} of table data: the dump and restore take a few minutes at most.")];
        }

        var rate = bytes / Math.Max(elapsed.TotalSeconds, 0.001);
        var dump = TimeSpan.FromSeconds(data / rate);
        var restore = dump * RestoreFactor;
        var total = dump + restore;
        if (online)
        {
            return [CheckResult.Ok(Name,
                $"{Cutover}; the copy takes about {Units.Duration(total)} (read at the measured {Units.Rate(rate)}, indexes built after), while the applications keep writing.",
                "Run the cutover when the follow's lag is small: the last changes are applied while writes are refused.")];
        }

        var found = $"about {Units.Duration(total)}: dump {Units.Duration(dump)} at the measured {Units.Rate(rate)}, restore about {Units.Duration(restore)}, plus the upload to storage.";
        return [total > _warnAbove
            ? CheckResult.Warn(Name, found,
                $"Plan a maintenance window well above {Units.Duration(total)}, or consider a replication-based migration to shorten it.")
            : CheckResult.Ok(Name, found, "Plan the maintenance window with a margin: restores of indexes and large objects can take longer.")];
    }

    /// <summary>The estimate's offline path, the faster of the direct copy and dump and restore (its basis says what it rests on).</summary>
    private CheckResult FromEstimate(Estimate e)
    {
        var copy = TimeSpan.FromSeconds(e.CopySeconds);
        var dumpRestore = TimeSpan.FromSeconds(e.DumpRestoreSeconds);
        if (online)
        {
            var downtime = e.OnlineDowntimeSeconds is { } d ? $" (about {Units.Duration(TimeSpan.FromSeconds(d))} by the estimate)" : "";
            return CheckResult.Ok(Name,
                $"{Cutover}{downtime}; the copy takes about {Units.Duration(copy)} by the estimate, while the applications keep writing.",
                "Run the cutover when the follow's lag is small: the last changes are applied while writes are refused.");
        }

        var (path, total) = copy <= dumpRestore ? ("a direct copy", copy) : ("dump and restore", dumpRestore);
        var found = $"about {Units.Duration(total)} for {path} by the estimate (direct copy about {Units.Duration(copy)}, dump and restore about {Units.Duration(dumpRestore)}, plus the upload to storage when staged).";
        return total > _warnAbove
            ? CheckResult.Warn(Name, found, $"Plan a maintenance window well above {Units.Duration(total)}, or consider a replication-based migration to shorten it.")
            : CheckResult.Ok(Name, found, "Plan the maintenance window with a margin: restores of indexes and large objects can take longer.");
    }

    /// <summary>Reads the table as pg_dump would (COPY), stopping after <c>sampleBytes</c> or <c>sampleTime</c>.</summary>
    private async Task<(long Bytes, TimeSpan Elapsed)> SampleAsync(PreflightContext context, string schema, string table, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        long total = 0;
        await using (var copy = await context.Source.BeginRawBinaryCopyAsync($"COPY {Db.Qualified(schema, table)} TO STDOUT (FORMAT binary)", cancellationToken))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await copy.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
                if (total >= sampleBytes || clock.Elapsed >= _sampleTime)
                {
                    await copy.CancelAsync();
                    break;
                }
            }
        }

        return (total, clock.Elapsed);
    }
}

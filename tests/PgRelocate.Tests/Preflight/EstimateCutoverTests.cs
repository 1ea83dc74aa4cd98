using PgRelocate.Preflight;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// The online downtime the estimate predicts: the switch's round trips one after another at the measured round trips,
/// and the sequences a batch of 500 to a round trip to the target, as the switch sets them (not one each; it reads them
/// beside the last changes).
/// </summary>
public class EstimateCutoverTests
{
    private static readonly EstimateOptions Options = new() { Jobs = 2, IndexJobs = 2, CutoverLag = TimeSpan.FromSeconds(5) };

    [Fact]
    public void Should_Count_The_Switchs_Round_Trips_To_Each_Side_And_The_Sequences_By_Batch()
    {
        var near = Estimate.Predict(Measures(sequences: 1_200, source: 0.020, target: 0.020), Options);
        var fewer = Estimate.Predict(Measures(sequences: 3, source: 0.020, target: 0.020), Options);
        var farTarget = Estimate.Predict(Measures(sequences: 3, source: 0.001, target: 0.050), Options);

        // 3 + 8 + 5 round trips of 20 ms, and two more batches of sequences set on the target: 0.32 + 0.04 s (one a
        // sequence would have been 24 s).
        Assert.Equal(0.36, near.OnlineDowntimeSeconds!.Value, 3);
        Assert.Equal(0.32, fewer.OnlineDowntimeSeconds!.Value, 3);
        // The source's 3 at 1 ms, the target's 8 and both sides' 5 at 50 ms.
        Assert.Equal(0.653, farTarget.OnlineDowntimeSeconds!.Value, 3);
        Assert.Contains(near.Basis, b => b.Contains("2 more to the target for its 1200 sequences", StringComparison.Ordinal));
    }

    /// <summary>
    /// Where the target's apply was sampled, the catch-up counts the source's rows, not its WAL's bytes: the inserts at
    /// the lane's rate in rows, the updates and deletes at the sampled rate. Counted in the WAL's bytes at the lane's rate,
    /// with its full-page images, pgbench's catch-up came to 60 to 600 s just after a checkpoint against the 17 to 21 s
    /// it took.
    /// </summary>
    [Fact]
    public void Should_Count_The_Catch_Up_In_The_Sources_Rows_At_The_Sampled_Apply_Rate()
    {
        var idle = Measures(sequences: 0, source: 0.001, target: 0.001);
        var busy = idle with { SourceWalBytesPerSecond = 36e6, SourceInsertsPerSecond = 2_000, SourceUpdatesPerSecond = 5_000, ApplyRowsPerSecond = 40_000 };

        var counted = Estimate.Predict(busy, Options);
        var unsampled = Estimate.Predict(busy with { ApplyRowsPerSecond = null }, Options);
        var never = Estimate.Predict(busy with { SourceUpdatesPerSecond = 40_000 }, Options);

        // A second of writes: 2,000 inserts at the lane's million rows a second (100 MB/s of 100-byte rows) and 5,000
        // updates at 40,000 a second: 0.127 s, applied while more come.
        Assert.Equal(counted.CopySeconds * 0.127 / 0.873, counted.CatchUpSeconds!.Value, 6);
        // The switch's last 5 s of writes, and 16 round trips of a millisecond.
        Assert.Equal((5 * 0.127) + 0.016, counted.OnlineDowntimeSeconds!.Value, 6);
        Assert.Contains(counted.Basis, b => b == "online: the source wrote 2000 rows a second by INSERT and 5000 by UPDATE or DELETE (pg_stat_user_tables); the follow applies a second of them in 0.127 s after the copy, the inserts at the lane's 1000000 rows a second and the others at the sampled 40000, one session.");
        // Not sampled: the WAL's bytes at the lane's rate, as before.
        Assert.Equal(unsampled.CopySeconds * 36e6 / 64e6, unsampled.CatchUpSeconds!.Value, 6);
        Assert.Contains(unsampled.Basis, b => b.Contains("(its full-page images counted in; the apply not sampled)", StringComparison.Ordinal));
        // Written faster than the follow applies: no catch-up.
        Assert.Null(never.CatchUpSeconds);
        Assert.Contains(never.Basis, b => b == "online: the source writes rows faster than the follow applies them: the follow would not catch up.");
    }

    /// <summary>An idle source (no WAL to drain at the switch), one table, and the round trips given in seconds.</summary>
    private static EstimateMeasures Measures(long sequences, double source, double target) =>
        EstimateIndexKindsTests.Measures(weighed: null) with
        {
            SourceRoundTrip = TimeSpan.FromSeconds(source),
            TargetRoundTrip = TimeSpan.FromSeconds(target),
            SourceWalBytesPerSecond = 0,
            Sequences = sequences,
        };
}

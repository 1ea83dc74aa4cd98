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

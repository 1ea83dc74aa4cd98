using PgRelocate.Preflight;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// The estimate's small tables (a few pages each, copied in batches): counted at the cost sampled for one, spread over
/// every session of the copy, not at the lane's rate over their pages; the other tables by their bytes, as before.
/// </summary>
public class EstimateSmallTablesTests
{
    private static readonly EstimateOptions Options = new() { Jobs = 2, IndexJobs = 2 };

    [Fact]
    public void Should_Count_Small_Tables_At_Their_Sampled_Cost_And_The_Others_By_Their_Bytes()
    {
        var measures = Measures(smallTableSeconds: 0.002);

        var estimate = Estimate.Predict(measures, Options);

        // 1,000 small tables at 2 ms over four sessions: 0.5 s; the large table's 100 MB at 100 MB/s: 1 s.
        Assert.Equal(1.5, estimate.CopySeconds, 3);
        Assert.Contains(estimate.Basis, b => b.StartsWith("direct copy: rows and indexes 1 s", StringComparison.Ordinal) && b.Contains("(1 tables, 0 large objects), 1000 small tables 0.5 s (4 sessions)", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_Count_Small_Tables_By_Their_Bytes_When_None_Was_Sampled()
    {
        var measures = Measures(smallTableSeconds: null);

        var estimate = Estimate.Predict(measures, Options);

        // The large table's 100 MB and the small tables' 1,000 pages of 8 kB, at 100 MB/s.
        Assert.Equal((100e6 + (1000 * 8192)) / 100e6, estimate.CopySeconds, 3);
        Assert.DoesNotContain(estimate.Basis, b => b.StartsWith("direct copy: ", StringComparison.Ordinal) && b.Contains("small tables", StringComparison.Ordinal));
    }

    /// <summary>One table of 100 MB and 1,000 of one page each, no indexes; a lane and a read at 100 MB/s, no round trips, no schema.</summary>
    private static EstimateMeasures Measures(double? smallTableSeconds) => new()
    {
        SourceReadBytesPerSecond = 100e6,
        TargetWriteBytesPerSecond = 100e6,
        SourceRoundTrip = TimeSpan.Zero,
        TargetRoundTrip = TimeSpan.Zero,
        SharedCores = 2,
        SmallTableSeconds = smallTableSeconds,
        Tables = [new EstimateTable("public", "large", 100_000_000, 1_000_000, [], 100_000_000),
            .. Enumerable.Range(0, 1000).Select(i => new EstimateTable("public", $"small{i}", 8192, 3, [], 8192))],
    };
}

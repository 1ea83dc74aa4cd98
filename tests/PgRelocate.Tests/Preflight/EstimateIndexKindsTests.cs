using PgRelocate.Preflight;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// The estimate's index builds: a B-tree by its rows at the sampled B-tree's rate; an index of another kind (a GIN
/// over jsonb holds many entries a row) by its size on the source weighed by its kind, at the sampled B-tree's rate in
/// bytes; by its rows where no size is known.
/// </summary>
public class EstimateIndexKindsTests
{
    private static readonly EstimateOptions Options = new() { Jobs = 2, IndexJobs = 2 };

    [Fact]
    public void Should_Count_A_Gin_Index_By_Its_Weighed_Size_And_A_BTree_By_Its_Rows()
    {
        var estimate = Estimate.Predict(Measures(weighed: [8_000_000, 80_000_000]), Options);

        // Rows 1 s; the B-tree 1 s by its million rows, the GIN 8 s by its 80 weighed MB at 10 MB/s: two builders, the
        // GIN the longest, 8 s.
        Assert.Equal(9, estimate.CopySeconds, 3);
    }

    [Fact]
    public void Should_Count_An_Index_By_Its_Rows_Where_Its_Size_Is_Unknown()
    {
        var unread = Estimate.Predict(Measures(weighed: null), Options);
        var uncounted = Estimate.Predict(Measures(weighed: [8_000_000, 0]), Options);
        var noBytesRate = Estimate.Predict(Measures(weighed: [8_000_000, 80_000_000]) with { IndexBytesPerSecond = null }, Options);

        // Rows 1 s; each index 1 s by its rows, over two builders.
        Assert.Equal(2, unread.CopySeconds, 3);
        Assert.Equal(2, uncounted.CopySeconds, 3);
        Assert.Equal(2, noBytesRate.CopySeconds, 3);
    }

    /// <summary>One table of 100 MB and a million rows with a B-tree and a GIN index; a lane at 100 MB/s, B-trees at a million rows (10 MB) a second.</summary>
    internal static EstimateMeasures Measures(long[]? weighed) => new()
    {
        SourceReadBytesPerSecond = 100e6,
        TargetWriteBytesPerSecond = 100e6,
        IndexRowsPerSecond = 1e6,
        IndexSampleRows = 1_000_000,
        IndexBytesPerSecond = 10e6,
        SourceRoundTrip = TimeSpan.Zero,
        TargetRoundTrip = TimeSpan.Zero,
        SharedCores = 2,
        Tables = [new EstimateTable("public", "events", 100_000_000, 1_000_000, ["btree", "gin"], 200_000_000, weighed)],
    };
}

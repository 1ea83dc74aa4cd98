using PgRelocate.Preflight;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// The estimate's foreign keys' checks, which every path makes in its post-data once the rows are in: each by the
/// cheapest of PostgreSQL's plans for it, played out on the post-data's sessions with one table's checks one after
/// another (each validation locks its table against the others), and added to both offline paths.
/// </summary>
public class EstimateForeignKeysTests
{
    private static readonly EstimateOptions Options = new() { Jobs = 2, IndexJobs = 2 };

    [Fact]
    public void Should_Run_One_Tables_Checks_One_After_Another_And_The_Tables_Referencing_One_Side_By_Side()
    {
        // order_items -> orders and order_items -> products one after the other; payments -> orders beside them.
        (long, long, double)[] checks = [(1, 2, 3), (1, 3, 2), (4, 2, 1)];

        Assert.Equal(5, ForeignKeyChecks.Seconds(checks, 2), 6);
        Assert.Equal(6, ForeignKeyChecks.Seconds(checks, 1), 6);
        Assert.Equal(5, ForeignKeyChecks.Seconds(checks, 8), 6);
        // Three tables referencing one: at once where there are sessions for them.
        Assert.Equal(3, ForeignKeyChecks.Seconds([(1, 9, 3), (2, 9, 2), (3, 9, 1)], 2), 6);
        Assert.Equal(3, ForeignKeyChecks.Seconds([(1, 9, 3), (2, 9, 2), (3, 9, 1)], 3), 6);
        Assert.Equal(0, ForeignKeyChecks.Seconds([], 2), 6);
    }

    [Fact]
    public void Should_Count_A_Check_By_The_Cheapest_Of_Its_Plans()
    {
        // 6 M rows probed into a hash of 2 M keys (each hashed at 1.7 probes): 9.4 M probes.
        Assert.Equal(9.4, ForeignKeyChecks.CheckSeconds(6_000_000, 2_000_000, 1e6), 6);
        // 1.5 M rows against 15 M keys, too many to hash in 256 MB: sorted (1.1 probes each) and merged with the keys' index (0.3 a key).
        Assert.Equal(6.15, ForeignKeyChecks.CheckSeconds(1_500_000, 15_000_000, 1e6), 6);
        // 20,000 rows against 15 M keys: each looked up in the key's index (11 probes).
        Assert.Equal(0.22, ForeignKeyChecks.CheckSeconds(20_000, 15_000_000, 1e6), 6);
        Assert.Equal(0.22, ForeignKeyChecks.CheckSeconds(20_000, 2_000_000, 1e6), 6);
    }

    [Fact]
    public void Should_Add_The_Checks_To_Both_Offline_Paths_And_Say_So()
    {
        var none = Estimate.Predict(EstimateIndexKindsTests.Measures(weighed: [8_000_000, 80_000_000]), Options);
        var measures = EstimateIndexKindsTests.Measures(weighed: [8_000_000, 80_000_000]) with
        {
            ForeignKeys = [new EstimateForeignKey(1, 2, 1_000_000, 500_000), new EstimateForeignKey(1, 3, 1_000_000, 100_000), new EstimateForeignKey(4, 5, 200_000, 100_000)],
            ForeignKeyRowsPerSecond = 1e6,
        };

        var counted = Estimate.Predict(measures, Options);
        var unmeasured = Estimate.Predict(measures with { ForeignKeyRowsPerSecond = null }, Options);

        // The table referencing two: 1.85 s, then 1.17 s; the third beside them (0.37 s).
        Assert.Equal(none.CopySeconds + 3.02, counted.CopySeconds, 6);
        Assert.Equal(none.DumpRestoreSeconds + 3.02, counted.DumpRestoreSeconds, 6);
        Assert.Contains(counted.Basis, b => b.StartsWith("direct copy: ", StringComparison.Ordinal) && b.Contains("the foreign keys' checks 3 s (3, 2 at once, one table's one after another)", StringComparison.Ordinal));
        Assert.Contains(counted.Basis, b => b.StartsWith("dump + restore: ", StringComparison.Ordinal) && b.Contains("the foreign keys' checks 3 s (3, ", StringComparison.Ordinal));
        Assert.Equal(none.CopySeconds, unmeasured.CopySeconds, 6);
        Assert.Contains(unmeasured.Basis, b => b.StartsWith("direct copy: ", StringComparison.Ordinal) && b.Contains("the foreign keys' checks not counted (3; their rate not measured)", StringComparison.Ordinal));
        Assert.DoesNotContain(none.Basis, b => b.Contains("foreign keys", StringComparison.Ordinal));
    }
}

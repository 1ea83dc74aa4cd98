using PgRelocate.Online;
using PgRelocate.Online.Apply;

namespace PgRelocate.Tests.Online;

/// <summary>Which lane applies each table's changes (<see cref="ApplyRoutes"/>), from the ties and the rows the source wrote.</summary>
public class ApplyRoutesTests
{
    private static uint _ids = 16400;

    /// <summary>
    /// pgbench's tables: by hash alone, the accounts (one UPDATE a transaction, none the same row), the branches and
    /// the history shared a lane, and only the tellers had the other. Spread by what the source wrote, the busiest
    /// table has a lane to itself and the others share the rest.
    /// </summary>
    [Fact]
    public void Should_Give_The_Busiest_Table_A_Lane_Of_Its_Own_And_Spread_The_Rest()
    {
        (string, long)[] writes = [(Q("pgbench_accounts"), 15_000_000), (Q("pgbench_history"), 400_000), (Q("pgbench_branches"), 400_150), (Q("pgbench_tellers"), 401_500), (Q("events"), 1_500_000)];
        var routes = ApplyRoutes.From(2, [], writes);

        var busiest = routes.LaneOf(Relation("pgbench_accounts"));
        Assert.All(new[] { "pgbench_history", "pgbench_branches", "pgbench_tellers", "events" }, t => Assert.NotEqual(busiest, routes.LaneOf(Relation(t))));
    }

    [Fact]
    public void Should_Keep_Tied_Tables_On_One_Lane_And_Count_Their_Writes_Together()
    {
        // The parent and its partitions are one group: with the rows of both partitions it outweighs "solo".
        (string, string)[] ties = [(Q("part_1"), Q("parent")), (Q("part_2"), Q("parent"))];
        (string, long)[] writes = [(Q("part_1"), 600), (Q("part_2"), 600), (Q("solo"), 1_000), (Q("small"), 10)];
        var routes = ApplyRoutes.From(2, ties, writes);

        var group = routes.LaneOf(Relation("parent"));
        Assert.Equal(group, routes.LaneOf(Relation("part_1")));
        Assert.Equal(group, routes.LaneOf(Relation("part_2")));
        Assert.NotEqual(group, routes.LaneOf(Relation("solo")));
        Assert.Equal(routes.LaneOf(Relation("solo")), routes.LaneOf(Relation("small")));
    }

    [Fact]
    public void Should_Route_A_Table_Never_Written_As_Without_Statistics()
    {
        var spread = ApplyRoutes.From(3, [], [(Q("busy"), 100)]);
        var hashed = ApplyRoutes.From(3, []);

        Assert.All(new[] { "quiet", "new_partition", "Mixed Case", "ünïcode" }, t => Assert.Equal(hashed.LaneOf(Relation(t)), spread.LaneOf(Relation(t))));
        Assert.All(new[] { "quiet", "busy" }, t => Assert.Equal(0, ApplyRoutes.From(1, [], [(Q("busy"), 100)]).LaneOf(Relation(t))));
    }

    private static string Q(string table) => PgRelocate.Connections.Db.Qualified("public", table);

    private static SourceRelation Relation(string table) => new(Interlocked.Increment(ref _ids), "public", table, ["id"], [true], [23], [-1]);
}

using PgRelocate.Copy;

namespace PgRelocate.Tests.Copy;

/// <summary>How the data phase cuts the work: largest first, and only a table too big for its share split.</summary>
public class DataPlanTests
{
    private const long Mb = 1024 * 1024;

    private static CopyTable Table(string name, long heapMb, long totalMb) =>
        new(1, "public", name, ["id"], heapMb * Mb, totalMb * Mb, 1000);

    [Fact]
    public void Should_Split_Tables_Above_The_Split_Size_Into_Page_Ranges_Largest_First()
    {
        var tables = new[] { Table("accounts", 806, 940), Table("events", 354, 520), Table("small", 10, 12) };

        var plan = DataPhase.Plan(tables, [], 0, splitAbove: 256 * Mb, jobs: 2);

        Assert.True(Assert.Single(plan, c => c.Table!.Name == "small").IsWholeTable);
        var accounts = plan.Where(c => c.Table!.Name == "accounts").ToList();
        Assert.Equal(4, accounts.Count);
        Assert.All(accounts, c => Assert.False(c.IsWholeTable));
        // The ranges cover every page once, the last one open-ended.
        Assert.Equal(0, accounts.Min(c => c.FromPage));
        Assert.Single(accounts, c => c.ToPage is null);
        Assert.Equal(accounts.Where(c => c.ToPage is not null).Select(c => c.ToPage).Order(), accounts.Where(c => c.FromPage > 0).Select(c => (long?)c.FromPage).Order());
        // Largest first, indexes included: both halves of events (260 MB each) before any quarter of accounts
        // (235 MB), so both streams load the table with the costliest index builds first.
        Assert.Equal(["events", "events", "accounts", "accounts", "accounts", "accounts", "small"], plan.Select(c => c.Table!.Name));
    }

    [Fact]
    public void Should_Split_Into_At_Least_As_Many_Ranges_As_Jobs()
    {
        var plan = DataPhase.Plan([Table("big", 300, 300), Table("small", 10, 10)], [], 0, splitAbove: 256 * Mb, jobs: 4);

        Assert.Equal(4, plan.Count(c => c.Table!.Name == "big"));
    }

    [Theory]
    [InlineData(4, 0)]
    [InlineData(4, 2048)]
    public void Should_Never_Split_With_Split_Size_Zero_Or_Tables_Below_It(int jobs, long splitMb)
    {
        var plan = DataPhase.Plan([Table("big", 1000, 1200), Table("small", 10, 10)], [], 0, splitAbove: splitMb * Mb, jobs: jobs);

        Assert.Equal(2, plan.Count);
        Assert.All(plan, c => Assert.True(c.IsWholeTable));
    }

    [Fact]
    public void Should_Share_Many_Large_Objects_Between_The_Jobs()
    {
        var oids = Enumerable.Range(1, 1000).Select(i => (uint)i).ToList();

        var plan = DataPhase.Plan([], oids, 1000 * Mb, splitAbove: 256 * Mb, jobs: 2);

        Assert.True(plan.Count >= 2);
        Assert.Equal(oids, plan.SelectMany(c => c.LargeObjects).Order());
    }

    [Theory]
    [InlineData("CREATE INDEX e ON public.events USING gin (payload);", true, true)]
    [InlineData("CREATE INDEX r ON public.spans USING gist (during);", true, false)]
    [InlineData("CREATE INDEX k ON public.events USING btree (kind, at);", false, false)]
    public void Should_Build_Gin_And_Gist_Indexes_First(string sql, bool first, bool gin)
    {
        var index = new TableIndex(1, "i", sql);

        Assert.Equal(first, index.BuildsFirst);
        Assert.Equal(gin, index.IsGin);
    }

    [Fact]
    public void Should_Batch_Runs_Of_Small_Whole_Tables_And_Leave_The_Rest_Alone()
    {
        var tiny = Enumerable.Range(1, 120).Select(i => new CopyTable((uint)(100 + i), "public", "t" + i, ["id"], 8192, 40 * 1024, 3)).ToList();
        var plan = DataPhase.Plan([Table("big", 300, 300), Table("mid", 1, 2), .. tiny], [], 0, splitAbove: 256 * Mb, jobs: 2);

        var units = SmallTables.Group(plan, jobs: 2);

        // The big table's ranges and the 1 MB table one chunk each, first; 120 tiny tables in batches of 120 / (2 jobs × 4) = 15.
        Assert.Equal(2 + 1 + 8, units.Count);
        Assert.All(units.Take(3), u => Assert.Single(u));
        Assert.All(units.Skip(3), u => Assert.Equal(15, u.Length));
        Assert.Equal(plan, units.SelectMany(u => u));
        Assert.False(SmallTables.Fits(DataChunk.Whole(Table("mid", 1, 2))));
    }

    [Fact]
    public void Should_Analyze_The_Small_Tables_Of_A_Round_Trip_In_One_Statement_After_Their_Indexes()
    {
        var tables = new[] { "a", "b c", "d" }.Select((n, i) => new CopyTable((uint)(10 + i), "app", n, ["id"], 8192, 8192, 3)).ToList();
        var group = tables.Select(t => (t, SmallTables.Steps(t, [new TableIndex(t.Oid, t.Name + "_idx", $"CREATE INDEX ON {t.Qualified} (id);")], _ => false))).ToList();

        var statements = SmallTables.RoundTrip(group, recorded: true, first: true, last: true);

        Assert.Equal("BEGIN", statements[0].Sql);
        Assert.Equal("COMMIT", statements[^1].Sql);
        var analyze = Assert.Single(statements, s => s.Sql.StartsWith("ANALYZE", StringComparison.Ordinal));
        Assert.Equal("ANALYZE \"app\".\"a\", \"app\".\"b c\", \"app\".\"d\"", analyze.Sql);
        Assert.Equal(statements.Count - 2, statements.IndexOf(analyze));
        // Each table's index, then its record (which names its ANALYZE too: all of it commits at once).
        Assert.All(tables, t => Assert.True(statements.FindIndex(s => s.Table == t && s.Sql.StartsWith("CREATE INDEX", StringComparison.Ordinal)) < statements.FindIndex(s => s.Table == t && s.Sql.Contains("analyze", StringComparison.Ordinal) && !s.Sql.StartsWith("ANALYZE", StringComparison.Ordinal))));
    }
}

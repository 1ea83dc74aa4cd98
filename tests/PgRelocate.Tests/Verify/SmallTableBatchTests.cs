using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

/// <summary>Small tables are compared fifty to a query (TableChecker.CheckSmallAsync): what that must not change.</summary>
public class SmallTableBatchTests(PgServer server) : IClassFixture<PgServer>
{
    private const int Tables = 120;

    /// <summary>120 tables of three rows, one of them with a name that needs quoting, in three batches.</summary>
    private static string ManyTables() =>
        string.Concat(Enumerable.Range(1, Tables).Select(i =>
            $"CREATE TABLE {Name(i)} (id int PRIMARY KEY, v text); INSERT INTO {Name(i)} VALUES (1, 'a{i}'), (2, 'b{i}'), (3, NULL);\n"));

    private static string Name(int i) => i == 77 ? "\"Small \"\"77\"\"\"" : $"t{i:000}";

    [Fact]
    public async Task Should_Compare_Many_Small_Tables_Together_And_Still_Name_The_Rows_That_Differ()
    {
        var (source, target) = await Pairs.CreateAsync(server, ManyTables());
        await PgServer.ExecuteAsync(target, $"UPDATE t037 SET v = 'changed' WHERE id = 2; DELETE FROM t101 WHERE id = 3; INSERT INTO {Name(77)} VALUES (4, 'extra')");

        var result = await Pairs.VerifyAsync(source, target);

        Assert.Equal(Tables, result.Tables.Count);
        Assert.Equal(["public.Small \"77\"", "public.t037", "public.t101"], result.Tables.Where(t => !t.Equal).Select(t => t.Name).Order(StringComparer.Ordinal));
        var changed = Assert.Single(result.Tables.Single(t => t.Name == "public.t037").Rows);
        Assert.Equal((DifferenceKind.Different, "2", "changed"), (changed.Difference, changed.Key["id"], changed.Columns!.Single(c => c.Column == "v").Target));
        Assert.Equal((DifferenceKind.MissingOnTarget, "3"), (Assert.Single(result.Tables.Single(t => t.Name == "public.t101").Rows) is var missing ? (missing.Difference, missing.Key["id"]) : default));
        Assert.Equal(4, result.Tables.Single(t => t.Name.Contains("77", StringComparison.Ordinal)).TargetRows);
        Assert.All(result.Tables.Where(t => t.Equal), t => Assert.Equal(3, t.TargetRows));
    }

    [Fact]
    public async Task Should_Let_Go_Of_A_Batch_That_Waits_For_A_Lock_And_Compare_Its_Tables_One_By_One()
    {
        // big is compared first (the only large table, one job), long enough to take a small table meanwhile.
        var (source, target) = await Pairs.CreateAsync(server, ManyTables() + """
            CREATE TABLE big (id int PRIMARY KEY, t text);
            INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g;
            ANALYZE big;
            """);
        await using var application = new NpgsqlConnection(source.ToNpgsqlConnectionString());
        await application.OpenAsync();
        var verifying = Verifier.RunAsync(new VerifyOptions { Source = source, Target = target, Jobs = 1 }, PgRelocate.Progress.NullReporter.Instance, CancellationToken.None);
        await WaitForAsync("query LIKE '%\"big\"%' AND state = 'active'", "the comparison of big");
        // An application takes one of the small tables: the batch holding it gives up its locks and its tables are
        // read alone, so only that table waits, holding nothing else, until the application is done.
        await Db.ExecuteAsync(application, "BEGIN; LOCK TABLE t050 IN ACCESS EXCLUSIVE MODE", CancellationToken.None);
        await WaitForAsync("wait_event_type = 'Lock' AND query LIKE '%\"t050\"%' AND query NOT LIKE '%UNION ALL%'", "t050 compared alone, waiting for the application's lock");
        await Db.ExecuteAsync(application, "COMMIT", CancellationToken.None);
        var result = await verifying;

        Assert.False(result.HasDifferences);
        Assert.Equal(Tables + 1, result.Tables.Count);
        Assert.All(result.Tables.Where(t => t.Name != "public.big"), t => Assert.Equal(3, t.TargetRows));

        Task WaitForAsync(string condition, string what) =>
            PgServer.WaitForActivityAsync(source, $"application_name = 'pgrelocate verify' AND {condition}", verifying, what);
    }
}

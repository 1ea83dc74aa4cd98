using PgRelocate.Errors;
using PgRelocate.Tests.Harness;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

public class QueryTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Compare_Unordered_Results_As_Multisets()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "UPDATE items SET t = 'changed' WHERE id = 3");

        var result = await Pairs.VerifyAsync(source, target, queries: ["SELECT count(*) FROM items", "SELECT t FROM items", "SELECT a, count(*) FROM nokey GROUP BY a"]);

        Assert.True(result.Queries[0].Equal);
        var q = result.Queries[1];
        Assert.False(q.Ordered);
        Assert.False(q.Equal);
        Assert.Equal(2, q.Rows.Count);
        Assert.Contains(q.Rows, r => r.Source == "(\"text 3\")" && r.Target is null);
        Assert.Contains(q.Rows, r => r.Target == "(changed)" && r.Source is null);
        Assert.True(result.Queries[2].Equal);
    }

    [Fact]
    public async Task Should_Compare_Ordered_Results_Row_By_Row()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "UPDATE items SET n = -1 WHERE id = 3");

        var result = await Pairs.VerifyAsync(source, target, queries: ["SELECT id FROM items ORDER BY n, id", "SELECT id FROM items ORDER BY id"]);

        var q = result.Queries[0];
        Assert.True(q.Ordered);
        Assert.False(q.Equal);
        Assert.Equal(1, q.Rows[0].Position);
        Assert.Equal("(1)", q.Rows[0].Source);
        Assert.Equal("(3)", q.Rows[0].Target);
        Assert.True(result.Queries[1].Equal);
    }

    [Fact]
    public async Task Should_Report_A_Query_That_Fails_On_One_Side_And_Refuse_One_That_Fails_On_Both()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await server.ExecuteAsync(target.Database, "DROP VIEW item_texts");

        var result = await Pairs.VerifyAsync(source, target, queries: "SELECT * FROM item_texts");
        var e = await Assert.ThrowsAsync<UsageException>(() => Pairs.VerifyAsync(source, target, queries: "SELECT * FROM no_such_table"));

        Assert.False(result.Queries[0].Equal);
        Assert.StartsWith("target:", result.Queries[0].Error, StringComparison.Ordinal);
        Assert.Contains("no_such_table", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Not_Let_A_Query_Write()
    {
        var (source, target) = await Pairs.CreateAsync(server);

        var e = await Assert.ThrowsAsync<UsageException>(() => Pairs.VerifyAsync(source, target, queries: "SELECT setval('counter', 1)"));

        Assert.Contains("read-only", e.Message, StringComparison.Ordinal);
        Assert.Equal(42, await PgServer.ScalarAsync<long>(target, "SELECT last_value FROM counter"));
    }
}

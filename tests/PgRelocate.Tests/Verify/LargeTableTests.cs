using PgRelocate.Tests.Harness;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

/// <summary>Its own class, so its cluster and its million rows load while the other classes run.</summary>
public class LargeTableTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_List_Exactly_The_Three_Changed_Keys_Of_A_Million_Row_Table()
    {
        var (source, target) = await Pairs.CreateAsync(server, """
            CREATE TABLE big (id bigint PRIMARY KEY, v text NOT NULL, n int);
            INSERT INTO big SELECT g, md5(g::text), g % 1000 FROM generate_series(1, 1000000) g;
            """);
        await PgServer.ExecuteAsync(target, """
            UPDATE big SET v = 'changed' WHERE id = 17;
            UPDATE big SET n = NULL WHERE id = 500000;
            UPDATE big SET n = n + 1 WHERE id = 999999;
            """);

        var result = await Pairs.VerifyAsync(source, target);

        var table = Assert.Single(result.Tables);
        Assert.Equal((1_000_000, 1_000_000), (table.SourceRows, table.TargetRows));
        Assert.Equal(["17", "500000", "999999"], table.Rows.Select(r => r.Key["id"]).Order(StringComparer.Ordinal));
        Assert.All(table.Rows, r => Assert.Equal(DifferenceKind.Different, r.Difference));
        Assert.Equal("n", table.Rows.Single(r => r.Key["id"] == "500000").Columns!.Single().Column);
        Assert.False(table.RowsTruncated);
    }

    [Fact]
    public async Task Should_Stop_Listing_At_The_Row_Limit()
    {
        var (source, target) = await Pairs.CreateAsync(server, """
            CREATE TABLE wide (id int PRIMARY KEY, v int);
            INSERT INTO wide SELECT g, g FROM generate_series(1, 20000) g;
            """);
        await PgServer.ExecuteAsync(target, "DELETE FROM wide WHERE id % 100 = 0");

        var result = await PgRelocate.Verify.Verifier.RunAsync(
            new VerifyOptions { Source = source, Target = target, MaxRows = 5 }, PgRelocate.Progress.NullReporter.Instance, CancellationToken.None);

        var table = Assert.Single(result.Tables);
        Assert.Equal(5, table.Rows.Count);
        Assert.True(table.RowsTruncated);
        Assert.All(table.Rows, r => Assert.Equal(DifferenceKind.MissingOnTarget, r.Difference));
    }
}

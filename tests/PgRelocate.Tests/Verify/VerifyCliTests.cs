using System.Text.Json;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Verify;

public class VerifyCliTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Exit_0_And_Print_A_Summary_When_The_Sides_Match()
    {
        var (source, target) = await Pairs.CreateAsync(server);

        var result = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Source and target match", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("public.items", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("large objects", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Exit_3_And_Name_The_Differences()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "UPDATE items SET t = 'changed' WHERE id = 42; DROP INDEX items_t;");

        var result = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("index public.items_t: missing on the target", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("id=42: differs", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("t: 'text 42' -> 'changed'", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Print_A_Json_Object_With_Per_Table_Results()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "DELETE FROM nokey WHERE a = 1");

        var result = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--mode", "counts", "--json", "--query", "SELECT count(*) FROM items");

        Assert.True(result.ExitCode == 3, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.True(root.GetProperty("hasDifferences").GetBoolean());
        Assert.Equal("counts", root.GetProperty("mode").GetString());
        var nokey = root.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "public.nokey");
        Assert.Equal(50, nokey.GetProperty("sourceRows").GetInt64());
        Assert.Equal(45, nokey.GetProperty("targetRows").GetInt64());
        Assert.True(root.GetProperty("queries")[0].GetProperty("equal").GetBoolean());
        Assert.DoesNotContain("***", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--mode", "sideways")]
    [InlineData("--jobs", "0")]
    [InlineData("--queries", "/nonexistent/queries.sql")]
    public async Task Should_Exit_2_On_Bad_Input(string option, string value)
    {
        var (source, target) = await Pairs.CreateAsync(server, "SELECT 1");

        var result = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), option, value);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Should_Exit_2_On_A_Malformed_Url_And_1_When_A_Side_Cannot_Be_Reached()
    {
        var (source, _) = await Pairs.CreateAsync(server, "SELECT 1");

        var malformed = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", "mysql://x@y/z");
        var unreachable = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(source.WithDatabase("no_such_db")));

        Assert.True(malformed.ExitCode == 2, malformed.ToString());
        Assert.True(unreachable.ExitCode == 1, unreachable.ToString());
        Assert.Contains("does not exist", unreachable.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Compare_The_Queries_Of_A_File()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "DELETE FROM sales.lines WHERE order_no = 5");
        using var dir = new TempDir();
        await File.WriteAllTextAsync(dir.File("checks.sql"), "SELECT count(*) FROM items;\nSELECT order_no, sum(qty) FROM sales.lines GROUP BY 1 ORDER BY 1;\n");

        var result = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--tables", "public.*", "--queries", dir.File("checks.sql"));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("results differ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("same results", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("sales.lines", result.Stdout.Split("Query")[0], StringComparison.Ordinal);
    }
}

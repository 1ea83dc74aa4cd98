using System.Text.Json;
using PgRelocate.Preflight;
using PgRelocate.Preflight.Checks;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary><c>pgrelocate check</c> between a PostgreSQL 14 source and a PostgreSQL 17 target, as a user runs it.</summary>
public class CrossVersionCheckTests(SettingsSourceServer source, Pg17Server target)
    : IClassFixture<SettingsSourceServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task Should_Exit_3_And_Name_The_Extension_The_Target_Lacks()
    {
        var src = await source.CreateDatabaseAsync("src");
        var dst = await target.CreateDatabaseAsync("dst");
        // adminpack was removed in PostgreSQL 17: present on the source, absent from the target.
        await source.ExecuteAsync(src.Database, "CREATE EXTENSION adminpack");

        var result = await CliRunner.RunAsync("check", "--source", CliRunner.Url(src), "--target", CliRunner.Url(dst));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("BLOCK extensions: Extensions the target's login role cannot get: missing on the target: adminpack.", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 blocking", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Exit_0_On_A_Clean_Pair_And_Give_Stable_Json()
    {
        var src = await source.CreateDatabaseAsync("src");
        var dst = await target.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(src, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g");
        await source.ExecuteAsync(src.Database, "CREATE EXTENSION citext");

        var result = await CliRunner.RunAsync("check", "--source", CliRunner.Url(src), "--target", CliRunner.Url(dst), "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.False(root.GetProperty("blocked").GetBoolean());
        Assert.Equal(0, root.GetProperty("counts").GetProperty("block").GetInt32());
        var checks = root.GetProperty("checks").EnumerateArray().ToList();
        var versions = checks.First(c => c.GetProperty("check").GetString() == "versions");
        Assert.Equal("ok", versions.GetProperty("status").GetString());
        Assert.StartsWith("source PostgreSQL 14.", versions.GetProperty("found").GetString(), StringComparison.Ordinal);
        Assert.Contains("target PostgreSQL 17.", versions.GetProperty("found").GetString(), StringComparison.Ordinal);
        var extensions = checks.First(c => c.GetProperty("check").GetString() == "extensions");
        Assert.Equal("ok", extensions.GetProperty("status").GetString());
        Assert.All(checks, c => Assert.True(c.TryGetProperty("next", out _)));
    }

    [Fact]
    public async Task Should_Block_A_Target_Older_Than_The_Source()
    {
        var newer = await target.CreateDatabaseAsync("src");
        var older = await source.CreateDatabaseAsync("dst");

        var rows = await Checks.RunAsync(new VersionsCheck(), newer, older);

        Assert.Equal(CheckStatus.Block, Checks.Row(rows, "versions").Status);
        Assert.Contains("PostgreSQL 17 or newer", Checks.Row(rows, "versions").Next, StringComparison.Ordinal);
        // This machine has the PostgreSQL 15 client tools only: a 17 source needs pg_dump 17.
        var tools = Checks.Row(rows, "client tools");
        if (new PgRelocate.Tools.PgBinaries().All("pg_dump").All(t => t.Major < 17))
        {
            Assert.Equal(CheckStatus.Block, tools.Status);
            Assert.Contains("postgresql-client-17", tools.Found, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Should_Exit_1_With_One_Line_When_The_Target_Cannot_Be_Reached()
    {
        var src = await source.CreateDatabaseAsync("src");
        var unreachable = src.WithDatabase("nowhere");
        var closedPort = CliRunner.Url(unreachable).Replace($":{src.Port}/", ":1/", StringComparison.Ordinal);

        var result = await CliRunner.RunAsync("check", "--source", CliRunner.Url(src), "--target", closedPort);

        Assert.True(result.ExitCode == 1, result.ToString());
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("(target)", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Exit_2_On_A_Malformed_Source_Url()
    {
        var result = await CliRunner.RunAsync("check", "--source", "mysql://user@host/db");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --source: 'mysql://' is not a PostgreSQL URL", result.Stderr, StringComparison.Ordinal);
    }
}

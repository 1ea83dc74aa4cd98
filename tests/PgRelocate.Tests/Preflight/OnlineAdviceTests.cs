using System.Text.Json;
using Npgsql;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// `check --online` gives the online migration's advice: the applications keep writing until the cutover, and
/// the downtime is the cutover's seconds, not a dump and restore's; without --online the advice is the dump's. The
/// estimated downtime is the estimate's figure, not one of its own beside it; with --no-estimate, its own.
/// </summary>
public class OnlineAdviceTests(PreflightServer server) : IClassFixture<PreflightServer>
{
    [Fact]
    public async Task Should_Give_The_Cutovers_Advice_And_Downtime_With_Online()
    {
        var db = await server.CreateDatabaseAsync();
        await PgServer.ExecuteAsync(db, "CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 50000) g; ANALYZE big");
        await using var app = new NpgsqlConnection(db.WithApplicationName("billing-api").ToNpgsqlConnectionString());
        await app.OpenAsync();

        var online = await CheckAsync(db, "--online");
        var offline = await CheckAsync(db);
        var alone = await CheckAsync(db, "--no-estimate");

        var apps = Row(online, "connected applications");
        Assert.Equal("warn", apps.GetProperty("status").GetString());
        Assert.DoesNotContain("before the dump", apps.GetProperty("next").GetString(), StringComparison.Ordinal);
        Assert.Contains("cutover", apps.GetProperty("next").GetString(), StringComparison.Ordinal);
        var downtime = Row(online, "estimated downtime").GetProperty("found").GetString()!;
        Assert.StartsWith("The write downtime is the cutover's", downtime, StringComparison.Ordinal);
        Assert.DoesNotContain("restore", downtime, StringComparison.Ordinal);

        Assert.Contains("Stop their writes before the dump", Row(offline, "connected applications").GetProperty("next").GetString(), StringComparison.Ordinal);
        Assert.Contains("dump", Row(offline, "estimated downtime").GetProperty("found").GetString(), StringComparison.Ordinal);

        // One figure: the estimate's, said to be its (not the check's own read of the source).
        Assert.Contains("the copy takes about ", downtime, StringComparison.Ordinal);
        Assert.Contains(" by the estimate", downtime, StringComparison.Ordinal);
        // The row's copy time is the estimate's (the JSON rounds it: within the row's tenth of a second).
        var found = Row(offline, "estimated downtime").GetProperty("found").GetString()!;
        var shown = System.Text.RegularExpressions.Regex.Match(found, @"direct copy about ([0-9]+\.[0-9])s");
        Assert.True(shown.Success, found);
        Assert.InRange(double.Parse(shown.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) - offline.GetProperty("estimate").GetProperty("copySeconds").GetDouble(), -0.06, 0.06);
        Assert.Contains("at the measured", Row(alone, "estimated downtime").GetProperty("found").GetString(), StringComparison.Ordinal);
        Assert.False(alone.TryGetProperty("estimate", out var none) && none.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task Should_Record_The_Cutovers_Advice_In_The_Check_Step_Of_Migrate_Online()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 50000) g; ANALYZE big");
        var target = await server.CreateDatabaseAsync("dst");
        using var work = new TempDir();

        // This server's wal_level is replica: the online checks block after the check step has recorded its report.
        var result = await CliRunner.RunAsync(["migrate", "--online", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", work.Path], null);

        Assert.True(result.ExitCode == 3, result.ToString());
        var checks = Assert.Single(PgRelocate.Migration.MigrationJournal.All(work.Path).Single().Step("check").Tables, t => t.Title == "Preflight checks");
        var downtime = Assert.Single(checks.Rows, r => r[0] == "estimated downtime");
        Assert.StartsWith("The write downtime is the cutover's", downtime[2], StringComparison.Ordinal);
        // The estimate measured before the checks gives their figure: the check does not read the source again.
        Assert.Contains(" by the estimate", downtime[2], StringComparison.Ordinal);
    }

    private static async Task<JsonElement> CheckAsync(PgRelocate.Connections.PgConnectionInfo db, params string[] extra)
    {
        var result = await CliRunner.RunAsync(["--json", "check", "--source", CliRunner.Url(db), .. extra], null);
        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    private static JsonElement Row(JsonElement report, string check) =>
        Assert.Single(report.GetProperty("checks").EnumerateArray(), r => r.GetProperty("check").GetString() == check);
}

using System.Diagnostics;
using System.Text.Json;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary><c>pgrelocate settings</c> between a configured PostgreSQL 14 source and a default PostgreSQL 17 target.</summary>
public class SettingsCommandTests(SettingsSourceServer source, Pg17Server target)
    : IClassFixture<SettingsSourceServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task Should_Name_Each_Behavioural_Difference_And_Print_Sql_That_Removes_Them()
    {
        var src = await source.CreateDatabaseAsync("src");
        var dst = await target.CreateDatabaseAsync("dst");

        var diff = await CliRunner.RunAsync("settings", "diff", "--source", CliRunner.Url(src), "--target", CliRunner.Url(dst));
        var sql = await CliRunner.RunAsync("settings", "diff", "--source", CliRunner.Url(src), "--target", CliRunner.Url(dst), "--sql");

        Assert.True(diff.ExitCode == 0, diff.ToString());
        var behaviour = diff.Stdout[..diff.Stdout.IndexOf("Infrastructure:", StringComparison.Ordinal)];
        foreach (var name in SettingsSourceServer.BehaviourChanged)
        {
            Assert.Contains($"  {name}: source ", behaviour, StringComparison.Ordinal);
        }

        Assert.Contains("  shared_buffers: source 65536kB, target 131072kB", diff.Stdout[diff.Stdout.IndexOf("Infrastructure:", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.True(sql.ExitCode == 0, sql.ToString());
        Assert.Contains($"ALTER DATABASE {Db.Ident(dst.Database)} SET TimeZone = 'Europe/Paris';", sql.Stdout, StringComparison.Ordinal);
        Assert.Contains($"ALTER DATABASE {Db.Ident(dst.Database)} SET search_path = \"$user\", \"public\", \"reporting\";", sql.Stdout, StringComparison.Ordinal);
        Assert.Contains($"ALTER DATABASE {Db.Ident(dst.Database)} SET work_mem = '16384kB';", sql.Stdout, StringComparison.Ordinal);

        // Applied by the target's owner, the statements leave no behavioural difference behind.
        await PgServer.ExecuteAsync(dst, sql.Stdout);
        var after = await CliRunner.RunAsync("settings", "diff", "--source", CliRunner.Url(src), "--target", CliRunner.Url(dst), "--json");

        Assert.True(after.ExitCode == 0, after.ToString());
        using var json = JsonDocument.Parse(after.Stdout);
        var remaining = json.RootElement.GetProperty("behaviour").EnumerateArray()
            .Where(d => d.GetProperty("ownerMaySet").GetBoolean())
            .Select(d => d.GetProperty("name").GetString())
            .ToList();
        Assert.Empty(remaining);
        Assert.NotEmpty(json.RootElement.GetProperty("infrastructure").EnumerateArray());
    }

    [Fact]
    public async Task Should_Capture_Like_Psql_And_Apply_A_Capture_To_The_Target()
    {
        var src = await source.CreateDatabaseAsync("src");
        var dst = await target.CreateDatabaseAsync("dst");
        using var dir = new TempDir();
        var captured = dir.File("captured.csv");
        var fromPsql = dir.File("psql.csv");

        var capture = await CliRunner.RunAsync("settings", "capture", "--db", CliRunner.Url(src), "-o", captured);
        await PsqlCopySettingsAsync(src, fromPsql);

        Assert.True(capture.ExitCode == 0, capture.ToString());
        Assert.StartsWith("name,setting,unit,category,", await File.ReadAllTextAsync(captured), StringComparison.Ordinal);
        var same = await CliRunner.RunAsync("settings", "diff", "--source", captured, "--target", fromPsql, "--json");
        Assert.True(same.ExitCode == 0, same.ToString());
        using (var json = JsonDocument.Parse(same.Stdout))
        {
            Assert.Empty(json.RootElement.GetProperty("behaviour").EnumerateArray());
        }

        var wrong = await CliRunner.RunAsync("settings", "apply", "--target", CliRunner.Url(dst), "--from", fromPsql, "--confirm", "some_other_db");
        var apply = await CliRunner.RunAsync("settings", "apply", "--target", CliRunner.Url(dst), "--from", fromPsql, "--confirm", dst.Database);
        var again = await CliRunner.RunAsync("settings", "apply", "--target", CliRunner.Url(dst), "--from", fromPsql, "--confirm", dst.Database);
        var after = await CliRunner.RunAsync("settings", "diff", "--source", fromPsql, "--target", CliRunner.Url(dst));

        Assert.Equal(2, wrong.ExitCode);
        Assert.StartsWith("error: --confirm 'some_other_db' does not match", wrong.Stderr, StringComparison.Ordinal);
        Assert.True(apply.ExitCode == 0, apply.ToString());
        Assert.Contains("SET DateStyle = 'SQL, DMY';", apply.Stdout, StringComparison.Ordinal);
        Assert.Contains("Nothing to change", again.Stdout, StringComparison.Ordinal);
        foreach (var name in SettingsSourceServer.BehaviourChanged)
        {
            Assert.DoesNotContain($"  {name}: source ", after.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal("SQL, DMY", await PgServer.ScalarAsync<string>(dst, "SHOW DateStyle"));
    }

    [Fact]
    public async Task Should_Exit_2_With_One_Line_For_A_Csv_That_Is_Not_Pg_Settings()
    {
        var dst = await target.CreateDatabaseAsync("dst");
        using var dir = new TempDir();
        var csv = dir.File("customers.csv");
        await File.WriteAllTextAsync(csv, "id,email\n1,a@example.com\n");

        var diff = await CliRunner.RunAsync("settings", "diff", "--source", csv, "--target", CliRunner.Url(dst));
        var missing = await CliRunner.RunAsync("settings", "diff", "--source", dir.File("nope.csv"), "--target", CliRunner.Url(dst));

        Assert.Equal(2, diff.ExitCode);
        var line = Assert.Single(diff.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: --source: 'customers.csv' is not a pg_settings CSV (its header lacks name, setting,", line.Replace(dir.Path + "/", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("does not exist", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Exit_1_When_A_Settings_Server_Cannot_Be_Reached()
    {
        var dst = await target.CreateDatabaseAsync("dst");
        var closed = CliRunner.Url(dst).Replace($":{dst.Port}/", ":1/", StringComparison.Ordinal);

        var result = await CliRunner.RunAsync("settings", "diff", "--source", closed, "--target", CliRunner.Url(dst));

        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>The seeds' command, run by psql itself.</summary>
    private static async Task PsqlCopySettingsAsync(PgConnectionInfo db, string file)
    {
        var psql = new PgRelocate.Tools.PgBinaries().Newest("psql");
        var info = new ProcessStartInfo(psql.Path) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-X", "-v", "ON_ERROR_STOP=1", "-c", $"\\copy (select * from pg_settings) to '{file}' with (format csv, header true);" })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in db.ToLibpqEnvironment())
        {
            info.Environment[key] = value;
        }

        using var p = Process.Start(info)!;
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, "psql failed: " + stderr);
    }
}

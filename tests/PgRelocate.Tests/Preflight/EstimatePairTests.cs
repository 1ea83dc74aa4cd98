using System.Globalization;
using System.Text.Json;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// migrate's check step measures the estimate too: the journal keeps it beside what the migration took (each from its
/// own clock: the copy step's start and end as the journal records them), the report shows both, and the next
/// <c>check</c> between the same servers is corrected by how far that one was off, and says so.
/// </summary>
public class EstimatePairTests(PreflightServer server) : IClassFixture<PreflightServer>
{
    [Fact]
    public async Task Should_Keep_The_Estimate_Beside_What_The_Migration_Took_And_Learn_From_It()
    {
        var source = await SourceAsync("pair_src");
        var target = await server.CreateDatabaseAsync("pair_dst");
        var other = await server.CreateDatabaseAsync("pair_dst2");
        using var work = new TempDir();
        using var empty = new TempDir();
        var report = work.File("report.md");

        var migrate = await CliRunner.RunAsync(["migrate", "--direct", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database,
            "--workdir", work.Path, "--estimate-seconds", "3", "--report", report], null);

        Assert.Equal(0, migrate.ExitCode);
        Assert.Contains("Estimate: direct copy about ", migrate.Output, StringComparison.Ordinal);
        using var journal = JsonDocument.Parse(await File.ReadAllTextAsync(Directory.GetFiles(work.Path, "journal.json", SearchOption.AllDirectories).Single()));
        var pair = journal.RootElement.GetProperty("estimate");
        var predicted = pair.GetProperty("predicted").GetProperty("copySeconds").GetDouble();
        var took = pair.GetProperty("actual").GetProperty("copySeconds").GetDouble();
        var copy = journal.RootElement.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "copy");
        var stepSeconds = (copy.GetProperty("finishedAt").GetDateTimeOffset() - copy.GetProperty("startedAt").GetDateTimeOffset()).TotalSeconds;
        Assert.True(predicted > 0, pair.ToString());
        Assert.Equal(stepSeconds, took, 3);
        Assert.False(pair.GetProperty("actual").TryGetProperty("dumpRestoreSeconds", out _), pair.ToString());
        var text = await File.ReadAllTextAsync(report);
        Assert.Contains("## Estimate and what happened", text, StringComparison.Ordinal);
        // A ratio only beside a prediction of a tenth of a second or more.
        var shown = predicted >= 0.1 ? $"{took / predicted:0.00}×" : "";
        Assert.Contains($"| direct copy | {Duration(predicted)} | {Duration(took)} | {shown} |", text, StringComparison.Ordinal);
        Assert.Contains("| dump + restore | ", text, StringComparison.Ordinal);
        Assert.Contains("| not run |", text, StringComparison.Ordinal);
        Assert.Contains("## Estimate: what it rests on", text, StringComparison.Ordinal);

        // The next check between the same servers (another target database): corrected by that pair, and says so.
        var learned = await EstimateAsync(source, other, work.Path);
        var fresh = await EstimateAsync(source, other, empty.Path);
        var factor = Math.Clamp(took / pair.GetProperty("measuredCopySeconds").GetDouble(), 0.25, 4);
        var id = journal.RootElement.GetProperty("id").GetString()!;
        Assert.Contains(Basis(learned), b => b.StartsWith($"learned from migration {id} between these servers", StringComparison.Ordinal) && b.Contains($"direct copy ×{factor.ToString("0.##", CultureInfo.InvariantCulture)}", StringComparison.Ordinal));
        Assert.DoesNotContain(Basis(fresh), b => b.StartsWith("learned from", StringComparison.Ordinal));
        // Both measured the same servers: corrected, the prediction moved by the factor (the rest of it is the measurement's own noise).
        var ratio = learned.GetProperty("copySeconds").GetDouble() / fresh.GetProperty("copySeconds").GetDouble();
        Assert.InRange(ratio, factor / 3, factor * 3);
    }

    [Fact]
    public async Task Should_Measure_Nothing_With_No_Estimate_And_Keep_That_On_Resume()
    {
        var source = await SourceAsync("pair_none_src");
        var target = await server.CreateDatabaseAsync("pair_none_dst");
        using var work = new TempDir();

        var migrate = await CliRunner.RunAsync(["migrate", "--direct", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database,
            "--workdir", work.Path, "--no-estimate"], null);
        var bad = await CliRunner.RunAsync(["migrate", "--direct", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database,
            "--workdir", work.Path, "--estimate-seconds", "0"], null);

        Assert.Equal(0, migrate.ExitCode);
        Assert.DoesNotContain("Estimate:", migrate.Output, StringComparison.Ordinal);
        using var journal = JsonDocument.Parse(await File.ReadAllTextAsync(Directory.GetFiles(work.Path, "journal.json", SearchOption.AllDirectories).Single()));
        Assert.False(journal.RootElement.TryGetProperty("estimate", out _), journal.RootElement.ToString());
        Assert.Equal("", journal.RootElement.GetProperty("options").GetProperty("estimateSeconds").GetString());
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--estimate-seconds must be between 1 and 3600", bad.Output, StringComparison.Ordinal);
        Assert.Single(Directory.GetDirectories(work.Path));
    }

    private async Task<PgConnectionInfo> SourceAsync(string name)
    {
        var source = await server.CreateDatabaseAsync(name);
        await PgServer.ExecuteAsync(source, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g; ANALYZE t");
        return source;
    }

    private static async Task<JsonElement> EstimateAsync(PgConnectionInfo source, PgConnectionInfo target, string workDir)
    {
        var result = await CliRunner.RunAsync(["--json", "check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--estimate-seconds", "3", "--workdir", workDir]);
        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        using var doc = JsonDocument.Parse(result.Stdout);
        return doc.RootElement.GetProperty("estimate").Clone();
    }

    private static string Duration(double seconds) => PgRelocate.Progress.Units.Duration(TimeSpan.FromSeconds(seconds));

    private static List<string> Basis(JsonElement estimate) => [.. estimate.GetProperty("basis").EnumerateArray().Select(b => b.GetString()!)];
}

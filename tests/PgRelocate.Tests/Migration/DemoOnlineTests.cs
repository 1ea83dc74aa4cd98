using System.Globalization;
using System.Text.RegularExpressions;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// <c>pgrelocate demo</c> through the real command line: offline, the sample dumped, restored and verified;
/// <c>--online</c>, two clusters, an application writing while the sample moves online, the application's own gap
/// printed, verification passed, the report written; and nothing left running or on disk either way.
/// </summary>
[Heavy(230)]
public sealed partial class DemoOnlineTests
{
    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Migrate_Online_While_The_Application_Writes_And_Leave_Nothing_Behind()
    {
        using var dir = new TempDir();
        var report = dir.File("demo-report.html");

        var result = await CliRunner.RunAsync(["demo", "--online", "--report", report], null, TimeSpan.FromMinutes(8));

        AssertEndedCleanly(result);

        var gap = Gap().Match(result.Stdout);
        Assert.True(gap.Success, "The application's own gap is not printed:\n" + result);
        var seconds = double.Parse(gap.Groups[1].Value, CultureInfo.InvariantCulture);
        // How long the gap is, is a measurement (bench/), not asserted here: that the application measured one is.
        Assert.True(seconds > 0, $"The application measured no gap between two writes:\n{result}");
        Assert.Matches(@"Write downtime\s+\d+\.\d+ s, measured by pgrelocate", result.Stdout);
        Assert.Matches(@"Verification\s+passed while following: \d+ tables identical", result.Stdout);
        Assert.Matches(@"Application writes\s+[1-9]\d* to the source, then [1-9]\d* to the target", result.Stdout);

        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal($"Report: {report}", lines[^1].TrimEnd());
        var html = await File.ReadAllTextAsync(report);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Migrate_Online_Behind_A_PgBouncer_The_Application_Writes_Through_With_No_Refused_Write()
    {
        Assert.True(PgRelocate.Tests.Harness.Servers.PgBouncerServer.Installed, "pgbouncer is not installed: run scripts/setup.sh");
        using var dir = new TempDir();
        var result = await CliRunner.RunAsync(["demo", "--online", "--pgbouncer", "--report", dir.File("demo-report.html")], null, TimeSpan.FromMinutes(8));

        AssertEndedCleanly(result);
        Assert.Matches(@"PgBouncer's pause\s+\d+\.\d+ s, measured by pgrelocate", result.Stdout);
        Assert.Matches(@"Application writes\s+[1-9]\d* before the switch, then [1-9]\d* after it on the target .* all through PgBouncer with one DATABASE_URL; 0 refused", result.Stdout);
        Assert.Contains("points at the target and is resumed", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Dump_Restore_And_Verify_The_Sample_Offline_And_Leave_Nothing_Behind()
    {
        // What `make demo` runs: the sample through a staged archive and a two-job restore, then verified.
        var result = await CliRunner.RunAsync(["demo"], null, TimeSpan.FromMinutes(6));

        AssertEndedCleanly(result);
        Assert.Matches(@"Dump\s+[\d.]+ \w?B, sha256 [0-9a-f]{16}", result.Stdout);
        Assert.Matches(@"Source and target match: 7 tables", result.Stdout);
        Assert.Matches(@"shop\.order_items\s+│ 200,000\s+│ 200,000\s+│ ok", result.Stdout);
    }

    [Fact]
    public async Task Should_Refuse_PgBouncer_Without_Online_Before_Starting_Anything()
    {
        var result = await CliRunner.RunAsync(["demo", "--pgbouncer"]);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--pgbouncer goes with --online", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotMatch(DemoFolder(), result.Stderr);
    }

    /// <summary>The demo said where its clusters were, ended with 0, and left nothing of them running or on disk.</summary>
    private static void AssertEndedCleanly(CliResult result)
    {
        var folder = DemoFolder().Match(result.Stderr) is { Success: true } m ? m.Groups[1].Value : null;
        Assert.True(folder is not null, "The demo did not say where its clusters are:\n" + result);
        Assert.Empty(ProcessesUsing(folder));
        Assert.False(Directory.Exists(folder), $"{folder} was left behind.");
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    /// <summary>The processes whose command line names <paramref name="folder"/> (the clusters' postmasters do).</summary>
    private static List<string> ProcessesUsing(string folder)
    {
        var found = new List<string>();
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(folder, StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(proc)}: {cmdline}");
                }
            }
            catch (IOException)
            {
                // Ended while we looked.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to read.
            }
        }

        return found;
    }

    [GeneratedRegex(@"Starting two throwaway PostgreSQL clusters in (\S+)\.")]
    private static partial Regex DemoFolder();

    [GeneratedRegex(@"Application's gap\s+(\d+\.\d+) s")]
    private static partial Regex Gap();
}

using System.Diagnostics;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Faults;

/// <summary>
/// A work folder on a small filesystem (a 2 MB tmpfs, mounted for the test; mounting needs root, and the
/// test is reported as skipped where the machine refuses it): a write that runs out of room is reported once,
/// as such, naming the folder, never retried part after part, and leaves no partial file.
/// </summary>
public class DiskFullTests(FaultServers servers) : IClassFixture<FaultServers>
{
    [SkippableFact]
    public async Task Should_Say_No_Space_Left_Once_When_The_Dump_Fills_The_Disk()
    {
        var source = await servers.SourceAsync();
        using var dir = new TempDir();
        var small = Path.Combine(dir.Path, "small");
        Directory.CreateDirectory(small);
        Skip.IfNot(await RunAsync("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small) == 0, "mounting a small filesystem needs root");
        try
        {
            var result = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", Path.Combine(small, "a.dump"));

            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains($"no space left on {small}", result.Stderr, StringComparison.Ordinal);
            Assert.Single(result.Stderr.Split('\n'), l => l.Contains("no space left", StringComparison.OrdinalIgnoreCase));
            Assert.DoesNotContain("Uploading part", result.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("retry", result.Output, StringComparison.OrdinalIgnoreCase);
            Assert.Empty(Directory.GetFileSystemEntries(small));
            Assert.Empty(await FaultServers.ChildrenOfAsync(source.Database));
        }
        finally
        {
            await RunAsync("umount", small);
        }
    }

    private static async Task<int> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        await p.WaitForExitAsync();
        return p.ExitCode;
    }
}

using PgRelocate.Migration;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;
using PgRelocate.Tests.Migration;

namespace PgRelocate.Tests.Faults;

/// <summary>
/// Ctrl-C and SIGTERM while a connection to the source has stalled (it stays open but carries nothing, so
/// reads block): every command ends with 130 "Interrupted.", leaves no temporary folder and no pg_dump or
/// pg_restore behind, and a rerun (or --resume) then finishes verified. (The test's own timeout bounds how
/// long that takes; the command gives its cleanup a few seconds before it ends itself.)
/// </summary>
[Heavy(160)]
[Trait(Tier.Name, Tier.Long)]
public class SignalTests(FaultServers servers) : IClassFixture<FaultServers>
{
    public static TheoryData<string, string, long> Points() => new()
    {
        { "copy", "INT", 30_000 },
        { "copy", "TERM", 1_000_000 },
        { "dump", "INT", 1_000_000 },
        { "dump", "TERM", 30_000 },
        { "migrate", "TERM", 1_000_000 },
        { "migrate", "INT", 30_000 },

        // A second signal ends the process at once: it still cleans up.
        { "copy", "INT,INT", 1_000_000 },
        { "migrate", "TERM,INT", 30_000 },
    };

    [Theory]
    [MemberData(nameof(Points))]
    public async Task Should_Exit_130_And_Leave_Nothing_Behind_When_Signalled_Under_A_Stalled_Connection(string command, string signal, long stallAfter)
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("signalled");
        using var tmp = new TempDir();
        using var work = new TempDir();
        var stalledSource = "";
        var proxyPort = 0;
        await using (var proxy = new CuttingProxy(source.Port, stallAfter, CutDirection.Download, cuts: 1000, stall: true))
        {
            proxyPort = proxy.Port;
            stalledSource = FaultServers.Through(source, proxy.Port);
            string[] args = command switch
            {
                "copy" => ["copy", "--source", stalledSource, "--target", CliRunner.Url(target), "--jobs", "2"],
                "dump" => ["dump", "--source", stalledSource, "--to", work.File("a.dump")],
                _ => ["migrate", "--source", stalledSource, "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", work.Path, "--read-only-source"],
            };
            var started = new TaskCompletionSource<int>();
            var run = CliRunner.RunAsync(args, FaultServers.InTemp(tmp.Path), TimeSpan.FromMinutes(2), p => started.SetResult(p.Id));
            var pid = await started.Task;
            await Task.WhenAny(proxy.FirstCut, run);
            Assert.True(proxy.FirstCut.IsCompleted, $"the connection stalled before {command} ended: {(run.IsCompleted ? await run : null)}");
            // Not waits for anything: the command sits a second in its stalled read before the signal; a second
            // signal comes a moment after the first, while the command cleans up.
            await Task.Delay(1000);
            foreach (var one in signal.Split(','))
            {
                await Signals.SendAsync(pid, one);
                await Task.Delay(200);
            }

            var result = await run;

            Assert.True(result.ExitCode == 130, result.ToString());
            Assert.Contains("Interrupted.", result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("unexpected", result.Output, StringComparison.OrdinalIgnoreCase);
            Assert.Empty(Directory.GetFileSystemEntries(tmp.Path));
            Assert.Empty(await FaultServers.ChildrenOfAsync(source.Database));
        }

        // The proxy is gone: a rerun goes straight to the source and finishes.
        if (command == "dump")
        {
            var again = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", work.File("a.dump"), "--force");
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.True(File.Exists(work.File("a.dump")));
            return;
        }

        if (command == "copy")
        {
            var again = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database);
            Assert.True(again.ExitCode == 0, again.ToString());
        }
        else
        {
            var journal = MigrationJournal.All(work.Path).Single();
            Assert.Equal(MigrationStatus.Canceled, journal.Status);
            // The journal names the proxy's port: a proxy that passes everything stands in for it on that port.
            await using var clear = new CuttingProxy(source.Port, long.MaxValue, CutDirection.Download, cuts: 0, listenPort: proxyPort);
            var resumed = await CliRunner.RunAsync(
                ["migrate", "--resume", journal.Id, "--source", stalledSource, "--target", CliRunner.Url(target), "--workdir", work.Path], null);
            Assert.True(resumed.ExitCode == 0, resumed.ToString());
        }

        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }
}

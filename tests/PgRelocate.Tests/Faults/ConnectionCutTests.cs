using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;
using PgRelocate.Tests.Migration;

namespace PgRelocate.Tests.Faults;

/// <summary>
/// A database connection reset in the middle of dump, restore --jobs, copy and verify: each command fails
/// with one line that says what happened (exit 1, never "unexpected failure"), leaves no child process, and a
/// rerun finishes and verifies.
/// </summary>
[Heavy(75)]
[Trait(Tier.Name, Tier.Long)]
public class ConnectionCutTests(FaultServers servers) : IClassFixture<FaultServers>
{
    [Theory]
    [InlineData(20_000)]
    [InlineData(1_500_000)]
    public async Task Should_Fail_In_One_Line_And_Dump_On_A_Rerun_When_The_Source_Connection_Drops(long cutAfter)
    {
        var source = await servers.SourceAsync();
        using var dir = new TempDir();

        CliResult cut;
        await using (var proxy = new CuttingProxy(source.Port, cutAfter, CutDirection.Download, cuts: 1000))
        {
            cut = await CliRunner.RunAsync("dump", "--source", FaultServers.Through(source, proxy.Port), "--to", dir.File("a.dump"));
        }

        var again = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));

        AssertOneLineFailure(cut);
        Assert.Empty(await FaultServers.ChildrenOfAsync(source.Database));
        Assert.True(again.ExitCode == 0, again.ToString());
        var target = await servers.Target.CreateDatabaseAsync("from_dump");
        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target));
        Assert.True(restore.ExitCode == 0, restore.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Theory]
    [InlineData(200_000)]
    [InlineData(2_000_000)]
    public async Task Should_Fail_In_One_Line_And_Restore_On_A_Rerun_When_The_Target_Connection_Drops_During_A_Parallel_Restore(long cutAfter)
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("cut_restore");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        CliResult cut;
        await using (var proxy = new CuttingProxy(target.Port, cutAfter, CutDirection.Upload, cuts: 1000))
        {
            cut = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", FaultServers.Through(target, proxy.Port), "--jobs", "2");
        }

        var again = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--jobs", "2", "--confirm", target.Database);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        AssertOneLineFailure(cut);
        Assert.Empty(await FaultServers.ChildrenOfAsync(target.Database));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Theory]
    [InlineData(50_000)]
    [InlineData(2_000_000)]
    public async Task Should_Fail_In_One_Line_And_Copy_On_A_Rerun_When_The_Source_Connection_Drops(long cutAfter)
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("cut_copy");
        using var tmp = new TempDir();

        CliResult cut;
        await using (var proxy = new CuttingProxy(source.Port, cutAfter, CutDirection.Download, cuts: 1000))
        {
            cut = await CliRunner.RunAsync(["copy", "--source", FaultServers.Through(source, proxy.Port), "--target", CliRunner.Url(target), "--jobs", "2"], FaultServers.InTemp(tmp.Path));
        }

        var again = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        AssertOneLineFailure(cut);
        Assert.Empty(Directory.GetFileSystemEntries(tmp.Path));
        Assert.Empty(await FaultServers.ChildrenOfAsync(source.Database));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Fact]
    public async Task Should_Say_Verification_Could_Not_Run_And_Verify_On_A_Rerun_When_A_Connection_Drops()
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("cut_verify");
        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(copy.ExitCode == 0, copy.ToString());

        CliResult cut;
        // Cut in the source's catalog, the first large answer (a session's start brings about 1 kB): a session that
        // carries the whole comparison of this database downloads about 4 kB, its last bytes the end of its final
        // transaction, and a cut there is a verification that already ran.
        await using (var proxy = new CuttingProxy(source.Port, 2_000, CutDirection.Download, cuts: 1000))
        {
            cut = await CliRunner.RunAsync("verify", "--source", FaultServers.Through(source, proxy.Port), "--target", CliRunner.Url(target));
            Assert.True(proxy.Cuts > 0, cut.ToString());
        }

        var again = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        AssertOneLineFailure(cut);
        Assert.True(again.ExitCode == 0, again.ToString());
    }

    /// <summary>Exit 1, and an error that is not a bug report (no stack trace without -v).</summary>
    private static void AssertOneLineFailure(CliResult result)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.DoesNotContain("unexpected failure", result.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("This is a bug", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output, StringComparison.Ordinal);
    }
}

using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// After the switch the target is the applications': a step that fails then (here the cutover summary, by a fault
/// injected at its start) leaves the source read-only and the target's rows where they are, and a resume finishes
/// without copying again.
/// </summary>
public class OnlineSwitchTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Keep_The_Source_Read_Only_And_The_Targets_Rows_When_A_Step_After_The_Switch_Fails()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT generate_series(1, 100), 'v';");
        var target = await servers.Target.CreateDatabaseAsync("after_switch");
        using var dir = new TempDir();

        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "throw:cutover summary:start" }, "--cutover", "auto");
        var failed = await run.Result;

        Assert.True(failed.ExitCode != 0, failed.ToString());
        var journal = run.Journal();
        Assert.NotNull(journal.SwitchedAt);
        Assert.Equal(OnlinePhases.Switched, OnlineStatus.Read(journal.Folder)?.Phase);
        Assert.Contains("stays read-only", failed.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("writable again", failed.ToString(), StringComparison.Ordinal);
        Assert.Equal("on", await PgServer.ScalarAsync<string>(source, "SHOW default_transaction_read_only"));
        Assert.Equal(StepStatus.Done, journal.Step("snapshot copy").Status);
        Assert.Equal(StepStatus.Done, journal.Step("cutover").Status);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{OnlineNames.Slot(journal.Id)}'"));

        // The application writes to the target now; a resume finishes what failed and copies nothing again.
        await PgServer.ExecuteAsync(target, "INSERT INTO t VALUES (101, 'after the switch')");
        var resumed = await OnlineRun.Resume(source, target, dir.Path, journal.Id).Result;

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(101L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));
        Assert.Equal("on", await PgServer.ScalarAsync<string>(source, "SHOW default_transaction_read_only"));
        Assert.Equal(MigrationStatus.Completed, run.Journal().Status);
    }
}

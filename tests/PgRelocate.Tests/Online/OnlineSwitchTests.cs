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

    /// <summary>
    /// The switch's row counts (taken beside the schema's fingerprints) stop it when a table the follow changed has other
    /// rows on the target than on the source: here a row deleted on the target behind the follow's back, after the
    /// verification while following passed. The source takes writes again and nothing is switched.
    /// </summary>
    [Fact]
    public async Task Should_Not_Switch_When_The_Row_Counts_Of_A_Changed_Table_Differ_At_The_Switch()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT generate_series(1, 100), 'v';");
        var target = await servers.Target.CreateDatabaseAsync("counts_differ");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();
        await PgServer.ExecuteAsync(source, "INSERT INTO t VALUES (101, 'followed')");
        await run.WaitForChangesAsync(1);
        await PgServer.ExecuteAsync(target, "DELETE FROM t WHERE id = 1");

        var cutover = await CliRunner.RunAsync(["cutover", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(2));
        var result = await run.Result;

        Assert.True(result.ExitCode == (int)PgRelocate.Errors.ExitCode.Differences, result + "\n" + cutover);
        Assert.True(result.Output.Contains("row counts differ on \"public\".\"t\" (101 rows on the source, 100 on the target)", StringComparison.Ordinal), result.ToString());
        Assert.Null(run.Journal().SwitchedAt);
        Assert.Equal("off", await PgServer.ScalarAsync<string>(source, "SHOW default_transaction_read_only"));
        await PgServer.ExecuteAsync(source, "INSERT INTO t VALUES (102, 'after the refused switch')");
    }
}

using PgRelocate.Migration;
using PgRelocate.Online.Steps;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// An online migration killed during its snapshot copy: the snapshot it read died with the run's replication
/// session, so the resumed run says why it copies again from a new slot, and ends equal to the source.
/// </summary>
public class OnlineSnapshotResumeTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Say_Why_It_Copies_Again_When_Resumed_After_A_Kill_During_The_Snapshot_Copy()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g;");
        var target = await servers.Target.CreateDatabaseAsync("snapshot_killed");
        using var dir = new TempDir();

        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:snapshot copy:progress" });
        Assert.Equal(137, (await run.Result).ExitCode);
        var id = run.Journal().Id;
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = 'after the kill' WHERE id <= 100;");
        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "INSERT INTO t VALUES (50001, 'while following');");
        await resumed.WaitForChangesAsync(1);
        await resumed.CutoverAsync(id);

        Assert.Contains(SnapshotCopyStep.ResumeMessage, (await resumed.Result).Output, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }
}

using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// `cancel` of an online migration whose process was killed: the steps' own undo, run by the runner, on the sides
/// given. The journal keeps no passwords, so the tool's schema on the target goes only once --target is given.
/// </summary>
public class OnlineCancelTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Remove_The_Follows_Files_And_The_Targets_Schema_Only_Once_Given_The_Target()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT generate_series(1, 100), 'v';");
        var target = await servers.Target.CreateDatabaseAsync("killed");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        // Verified first: the verification's own slot would wait for the large transaction below to end.
        await run.WaitForVerifiedAsync();
        // A large transaction left open is streamed to the follow, which keeps it on disk until its commit.
        await using var large = new Npgsql.NpgsqlConnection(source.ToNpgsqlConnectionString());
        await large.OpenAsync();
        await Db.ExecuteAsync(large, "BEGIN; INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1001, 6000) g;", CancellationToken.None);
        await Eventually.Holds(() => Spooled(dir.Path).Any(), TimeSpan.FromSeconds(10));

        Assert.NotEmpty(Spooled(dir.Path));
        run.Process!.Kill(entireProcessTree: true);
        await run.Result;
        await Db.ExecuteAsync(large, "ROLLBACK", CancellationToken.None);

        var withoutTarget = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path, "--source", CliRunner.Url(source));

        Assert.True(withoutTarget.ExitCode == 0, withoutTarget.ToString());
        Assert.Contains("removed from the source", withoutTarget.Stdout, StringComparison.Ordinal);
        Assert.Contains($"'pgrelocate cancel {id} --target {PgRelocate.Migration.PastedCommand.Connection(target)}' also removes it", withoutTarget.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Could not", withoutTarget.ToString(), StringComparison.Ordinal);
        Assert.Empty(Spooled(dir.Path));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{PgRelocate.Online.OnlineNames.Slot(id)}'"));
        Assert.Equal("pgrelocate_online", await PgServer.ScalarAsync<string>(target, "SELECT to_regnamespace('pgrelocate_online')::text"));

        var wrongTarget = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path, "--target", CliRunner.Url(source));
        var withTarget = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path, "--target", CliRunner.Url(target));

        Assert.Equal(2, wrongTarget.ExitCode);
        Assert.Contains("--target is not the target of migration", wrongTarget.Stderr, StringComparison.Ordinal);
        Assert.True(withTarget.ExitCode == 0, withTarget.ToString());
        Assert.Contains("removed from the target", withTarget.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("--target", withTarget.Stdout, StringComparison.Ordinal);
        Assert.Null(await PgServer.ScalarAsync<string>(target, "SELECT to_regnamespace('pgrelocate_online')::text"));
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.All(dir.Path).Single().Status);
    }

    private static IEnumerable<string> Spooled(string workDir) => Directory.EnumerateFiles(workDir, "transaction-*.changes", SearchOption.AllDirectories);
}

using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

public class RestoreFailureTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Refuse_Up_Front_When_The_Target_Cannot_Create_An_Extension_The_Archive_Needs()
    {
        // pageinspect is not a trusted extension: the source's superuser installed it, and the target's
        // login role may not. Found before pg_restore starts, not halfway through.
        var source = await server.CreateDatabaseAsync("src");
        await server.ExecuteAsync(source.Database, "CREATE EXTENSION pageinspect");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g");
        var target = await server.CreateDatabaseAsync("dst");
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--log", dir.File("restore.log"));

        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.Equal(2, restore.ExitCode);
        Assert.Contains("pageinspect", restore.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", restore.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("restore.log")));
    }
}

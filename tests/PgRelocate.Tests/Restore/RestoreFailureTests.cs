using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

public class RestoreFailureTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Fail_With_The_Reason_And_Keep_The_Log_When_The_Target_Refuses_A_Statement()
    {
        // pageinspect is not a trusted extension: the source's superuser installed it, and the target's
        // login role may not. That error is not one of the harmless ones.
        var source = await server.CreateDatabaseAsync("src");
        await server.ExecuteAsync(source.Database, "CREATE EXTENSION pageinspect");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g");
        var target = await server.CreateDatabaseAsync("dst");
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--log", dir.File("restore.log"));

        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.Equal(1, restore.ExitCode);
        Assert.Contains("Failed", restore.Stdout, StringComparison.Ordinal);
        Assert.Contains("EXTENSION pageinspect", restore.Stdout, StringComparison.Ordinal);
        Assert.Contains("permission denied to create extension", await File.ReadAllTextAsync(dir.File("restore.log")), StringComparison.Ordinal);
        Assert.Contains(dir.File("restore.log"), restore.Stdout, StringComparison.Ordinal);
    }
}

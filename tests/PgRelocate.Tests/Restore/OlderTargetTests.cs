using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// A PostgreSQL 15 source (and its archive) into a PostgreSQL 14 target: the one target preparation refuses
/// it, from the archive's header (restore) or from the source server (copy), before anything is emptied.
/// (The machine's client programs are PostgreSQL 15's, so 15 is the newest source a real archive comes from.)
/// </summary>
public sealed class OlderTargetTests(PgServer source, Pg14Server target) : IClassFixture<PgServer>, IClassFixture<Pg14Server>
{
    [Fact]
    public async Task Should_Refuse_To_Restore_A_Newer_Servers_Archive_Into_An_Older_Target_And_Change_Nothing()
    {
        var src = await NewerSourceAsync();
        var dst = await MarkedTargetAsync();
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(src), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(dst), "--confirm", dst.Database, "--jobs", "2");

        AssertRefused(restore);
        Assert.Equal(1, await PgServer.ScalarAsync<long>(dst, "SELECT count(*) FROM marker"));
    }

    [Fact]
    public async Task Should_Refuse_To_Copy_A_Newer_Server_Into_An_Older_Target_And_Change_Nothing()
    {
        var src = await NewerSourceAsync();
        var dst = await MarkedTargetAsync();

        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(src), "-t", CliRunner.Url(dst), "--confirm", dst.Database);

        AssertRefused(copy);
        Assert.Equal(1, await PgServer.ScalarAsync<long>(dst, "SELECT count(*) FROM marker"));
    }

    private async Task<PgConnectionInfo> NewerSourceAsync()
    {
        var src = await source.CreateDatabaseAsync("newer");
        await PgServer.ExecuteAsync(src, "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 10)");
        return src;
    }

    private async Task<PgConnectionInfo> MarkedTargetAsync()
    {
        var dst = await target.CreateDatabaseAsync("older");
        await PgServer.ExecuteAsync(dst, "CREATE TABLE marker (id int); INSERT INTO marker VALUES (1)");
        return dst;
    }

    private static void AssertRefused(CliResult result)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("older than the source's 15", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Replacing the", result.Output, StringComparison.Ordinal);
    }
}

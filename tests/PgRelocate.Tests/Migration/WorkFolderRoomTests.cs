using System.Diagnostics;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>A staged migration whose work folder cannot hold the dump is refused before the target is emptied.</summary>
[Heavy(30)]
public class WorkFolderRoomTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Refuse_A_Staged_Migration_Whose_Work_Folder_Lacks_Room_Before_Emptying_The_Target()
    {
        var source = await server.CreateDatabaseAsync("src");
        // About 10 MB of table data: a dump estimated at a few MB, twice over with the following restore's copy.
        await PgServer.ExecuteAsync(source, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 100000) g; ANALYZE big");
        var target = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE marker (id int); INSERT INTO marker VALUES (1), (2), (3)");
        using var dir = new TempDir();
        var small = Path.Combine(dir.Path, "small");
        Directory.CreateDirectory(small);
        Assert.True(await RunAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small) == 0, "could not mount a 1 MB tmpfs (the test runs as root)");
        try
        {
            var migrate = await CliRunner.RunAsync("migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", small);

            Assert.True(migrate.ExitCode == 2, migrate.ToString());
            Assert.True(migrate.Output.Contains($"Not enough room in {small}", StringComparison.Ordinal), migrate.ToString());
            Assert.Contains("the archive", migrate.Output, StringComparison.Ordinal);
            Assert.Contains("--workdir", migrate.Output, StringComparison.Ordinal);
            Assert.Contains("Nothing was changed.", migrate.Output, StringComparison.Ordinal);
            Assert.Equal(3, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM marker"));
        }
        finally
        {
            Assert.True(await RunAsync("umount", small) == 0, "could not unmount the tmpfs");
        }
    }

    private static async Task<int> RunAsync(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}

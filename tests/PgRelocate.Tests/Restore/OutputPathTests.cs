using PgRelocate.Connections;
using PgRelocate.Staging;
using PgRelocate.Tests.Catalog;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// Every path a command writes (--log, --report, --workdir, --via, dump's --to, settings -o) is tried before
/// anything changes: one it cannot write, here on a read-only file system, is refused with exit 2 naming the
/// option and the path, and the target keeps what it held.
/// </summary>
public sealed class OutputPathTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Should_Refuse_A_Restore_Whose_Log_Cannot_Be_Written_Before_Emptying_The_Target()
    {
        using var dir = new TempDir();
        var archive = await DumpAsync(dir);
        var target = await MarkerTable.TargetWithRowsAsync(servers.Target, "rolog");
        using var readOnly = new ReadOnlyFolder();

        var refused = await CliRunner.RunAsync("restore", archive, "--target", CliRunner.Url(target), "--confirm", target.Database, "--log", readOnly.File("restore.log"));

        AssertRefused(refused, "--log", readOnly.File("restore.log"));
        await MarkerTable.AssertUntouchedAsync(target);
    }

    [Fact]
    public async Task Should_Refuse_A_Copy_Whose_Log_Cannot_Be_Written_Before_Emptying_The_Target()
    {
        var source = await SourceAsync();
        var target = await MarkerTable.TargetWithRowsAsync(servers.Target, "colog");
        using var readOnly = new ReadOnlyFolder();

        var refused = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--log", readOnly.File("logs/copy.log"));

        AssertRefused(refused, "--log", readOnly.File("logs/copy.log"));
        await MarkerTable.AssertUntouchedAsync(target);
    }

    [Theory]
    [InlineData("--report")]
    [InlineData("--workdir")]
    [InlineData("--via")]
    public async Task Should_Refuse_A_Migration_That_Could_Not_Write_A_Path_It_Was_Given(string option)
    {
        var source = await SourceAsync();
        var target = await MarkerTable.TargetWithRowsAsync(servers.Target, "romig");
        using var work = new TempDir();
        using var readOnly = new ReadOnlyFolder();
        var path = option switch
        {
            "--report" => readOnly.File("report.html"),
            "--workdir" => readOnly.File("migrations"),
            _ => readOnly.File("app.dump"),
        };
        string[] args = ["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, .. option == "--workdir" ? Array.Empty<string>() : ["--workdir", work.Path], option, path];

        var refused = await CliRunner.RunAsync(args);

        AssertRefused(refused, option, path);
        await MarkerTable.AssertUntouchedAsync(target);
        Assert.Empty(Directory.GetFileSystemEntries(work.Path));
    }

    [Fact]
    public async Task Should_Refuse_A_Dump_To_A_Path_It_Cannot_Write_Before_Running_Pg_Dump()
    {
        var source = await SourceAsync();
        using var readOnly = new ReadOnlyFolder();

        var refused = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", readOnly.File("app.dump"));

        AssertRefused(refused, "--to", readOnly.File("app.dump"));
        Assert.DoesNotContain("Uploading part", refused.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Refuse_Settings_Capture_To_A_Path_It_Cannot_Write()
    {
        var source = await SourceAsync();
        using var readOnly = new ReadOnlyFolder();

        var refused = await CliRunner.RunAsync("settings", "capture", "--db", CliRunner.Url(source), "-o", readOnly.File("settings.csv"));

        AssertRefused(refused, "-o", readOnly.File("settings.csv"));
    }

    [Fact]
    public async Task Should_Fail_A_Local_Write_At_Once_Without_Retrying_It()
    {
        using var readOnly = new ReadOnlyFolder();
        var reporter = new RecordingReporter();
        var location = StagingLocation.Parse(readOnly.File("app.dump"));
        var store = StagingStores.Open(location, new StagingOptions(), reporter);
        var upload = await store.StartUploadAsync(location.Key, new UploadOptions(), CancellationToken.None);

        var failed = await Assert.ThrowsAsync<StagingException>(() => upload.UploadPartAsync(1, 0, new byte[] { 1, 2, 3 }, CancellationToken.None));

        Assert.False(failed.IsTransient, failed.Message);
        Assert.Contains("read-only file system", failed.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(reporter.Lines, l => l.Contains("retrying", StringComparison.Ordinal));
    }

    private static void AssertRefused(CliResult refused, string option, string path)
    {
        Assert.True(refused.ExitCode == 2, refused.ToString());
        var line = refused.Stderr.Split('\n').Single(l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains(option, line, StringComparison.Ordinal);
        Assert.Contains(path, line, StringComparison.Ordinal);
        Assert.Contains("read-only file system", line, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<PgConnectionInfo> SourceAsync()
    {
        var source = await servers.Source.CreateDatabaseAsync("rosrc");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g");
        return source;
    }

    private async Task<string> DumpAsync(TempDir dir)
    {
        var source = await SourceAsync();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("app.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        return dir.File("app.dump");
    }
}

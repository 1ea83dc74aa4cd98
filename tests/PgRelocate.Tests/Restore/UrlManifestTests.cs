using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// `restore URL` without --manifest looks for ARCHIVE.manifest.json beside the URL: a server that returns
/// another valid archive is refused before the target is touched; with no manifest there, it says plainly that
/// the archive's identity was not checked.
/// </summary>
public sealed class UrlManifestTests(PgServerPair servers) : IClassFixture<PgServerPair>, IDisposable
{
    /// <summary>Folder one, served over HTTP, and folder two, another database's archive: see <see cref="TwoArchivesAsync"/>.</summary>
    private readonly TempDir served = new(), other = new();

    public void Dispose()
    {
        served.Dispose();
        other.Dispose();
    }

    [Fact]
    public async Task Should_Refuse_Another_Archive_Than_The_Manifest_Beside_The_Url_Describes()
    {
        await TwoArchivesAsync();
        using var http = new FileHttpServer(served.Path);
        var target = await servers.Target.CreateDatabaseAsync("beside");
        var original = served.File("a.dump") + ".original";
        File.Move(served.File("a.dump"), original);
        File.Copy(other.File("b.dump"), served.File("a.dump"));

        var refused = await CliRunner.RunAsync("restore", http.Url("a.dump"), "--target", CliRunner.Url(target));

        Assert.True(refused.ExitCode is 1 or 2, refused.ToString());
        Assert.Contains("manifest", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(0L, await TablesAsync(target));

        File.Copy(original, served.File("a.dump"), overwrite: true);
        var restored = await CliRunner.RunAsync("restore", http.Url("a.dump"), "--target", CliRunner.Url(target));

        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.Contains("SHA-256 matches the manifest", restored.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("identity was not checked", restored.Output, StringComparison.Ordinal);
        Assert.Equal(3L, await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(target.Database), "SELECT count(*) FROM t"));
    }

    [Fact]
    public async Task Should_Say_The_Archives_Identity_Was_Not_Checked_Without_A_Manifest_Beside_The_Url()
    {
        await TwoArchivesAsync();
        File.Delete(served.File("a.dump.manifest.json"));
        using var http = new FileHttpServer(served.Path);
        var target = await servers.Target.CreateDatabaseAsync("nomanifest");

        var restored = await CliRunner.RunAsync("restore", http.Url("a.dump"), "--target", CliRunner.Url(target));

        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.Contains("The archive's identity was not checked: there is no manifest at http://127.0.0.1:", restored.Stderr, StringComparison.Ordinal);
        Assert.Contains("a.dump.manifest.json", restored.Stderr, StringComparison.Ordinal);
        Assert.Equal(3L, await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(target.Database), "SELECT count(*) FROM t"));
    }

    [Theory]
    [InlineData(HttpFault.ServerError)]
    [InlineData(HttpFault.CutShort)]
    public async Task Should_Refuse_A_Restore_Whose_Manifest_Beside_The_Url_Fails_To_Download(HttpFault fault)
    {
        await TwoArchivesAsync();
        using var http = new FileHttpServer(served.Path) { Fault = name => name.EndsWith(".manifest.json", StringComparison.Ordinal) ? fault : HttpFault.None };
        var target = await MarkerTable.TargetWithRowsAsync(servers.Target, "failedmanifest");

        var refused = await CliRunner.RunAsync("restore", http.Url("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("a.dump.manifest.json could not be read", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("identity was not checked", refused.Output, StringComparison.Ordinal);
        await MarkerTable.AssertUntouchedAsync(target);
    }

    [Fact]
    public async Task Should_Name_The_Url_When_A_Resumed_Download_Brings_Other_Bytes()
    {
        await TwoArchivesAsync();
        File.Delete(served.File("a.dump.manifest.json"));
        using var http = new FileHttpServer(served.Path) { Fault = name => name == "a.dump" ? HttpFault.ResumeFromStart : HttpFault.None };
        var target = await MarkerTable.TargetWithRowsAsync(servers.Target, "lyingrange");

        var refused = await CliRunner.RunAsync("restore", http.Url("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(refused.ExitCode is 1 or 2, refused.ToString());
        var error = refused.Stderr.Split('\n').Single(l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains(http.Url("a.dump"), error, StringComparison.Ordinal);
        Assert.DoesNotContain("pgrelocate-download-", error, StringComparison.Ordinal);
        await MarkerTable.AssertUntouchedAsync(target);
    }

    /// <summary>Folder one holds a.dump (3 rows in t) and its manifest; folder two b.dump, another database's archive.</summary>
    private async Task TwoArchivesAsync()
    {
        var a = await servers.Source.CreateDatabaseAsync("a");
        await PgServer.ExecuteAsync(a, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 3) g");
        var b = await servers.Source.CreateDatabaseAsync("b");
        await PgServer.ExecuteAsync(b, "CREATE TABLE u AS SELECT g AS id FROM generate_series(1, 7) g");
        var dumpA = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(a), "--to", served.File("a.dump"));
        var dumpB = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(b), "--to", other.File("b.dump"));
        Assert.True(dumpA.ExitCode == 0, dumpA.ToString());
        Assert.True(dumpB.ExitCode == 0, dumpB.ToString());
        Assert.True(File.Exists(served.File("a.dump.manifest.json")));
    }

    private async Task<long> TablesAsync(PgConnectionInfo db) =>
        await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(db.Database), "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace");
}

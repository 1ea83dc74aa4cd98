using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Tests.Harness;
using PgRelocate.Tools;

namespace PgRelocate.Tests.Tls;

/// <summary>A server without TLS: sslmode require fails alike in our sessions and in libpq, and prefer falls back.</summary>
public class PlainServerTests(PgServer server) : IClassFixture<PgServer>
{
    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();

    [Fact]
    public async Task Should_Say_The_Server_Does_Not_Accept_TLS_When_Require_Asks_For_It()
    {
        var db = await server.CreateDatabaseAsync("plain");
        var info = PgConnectionInfo.Parse(CliRunner.Url(db).Replace("sslmode=disable", "sslmode=require", StringComparison.Ordinal), NoEnvironment);

        var ours = await Assert.ThrowsAsync<PgRelocateException>(() => Db.OpenAsync(info, "target", CancellationToken.None));
        var libpq = await Assert.ThrowsAsync<PgRelocateException>(() => LibpqProbe.RunAsync(info, "target", new PgBinaries().Newest("pg_dump"), CancellationToken.None));

        Assert.StartsWith($"The target ({info.Display}) does not accept TLS connections, and sslmode=require requires TLS", ours.Message, StringComparison.Ordinal);
        Assert.StartsWith($"The target ({info.Display}) does not accept TLS connections, and sslmode=require requires TLS", libpq.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Connect_Without_TLS_When_Prefer_Finds_None()
    {
        var db = await server.CreateDatabaseAsync("prefer");
        var info = PgConnectionInfo.Parse(CliRunner.Url(db).Replace("sslmode=disable", "sslmode=prefer", StringComparison.Ordinal), NoEnvironment);

        await using var conn = await Db.OpenAsync(info, "target", CancellationToken.None);
        var probe = await LibpqProbe.RunAsync(info, "target", new PgBinaries().Newest("pg_dump"), CancellationToken.None);

        Assert.Equal(1, await Db.ScalarAsync<int>(conn, "SELECT 1", CancellationToken.None));
        Assert.True(probe.Connected);
    }

    [Fact]
    public async Task Should_Open_A_Replication_Session_Without_TLS_When_Prefer_With_A_CA_File_Finds_None()
    {
        var db = await server.CreateDatabaseAsync("replprefer");
        await server.ExecuteAsync("postgres", $"ALTER ROLE \"{db.User}\" REPLICATION");
        using var dir = new TempDir();
        File.WriteAllText(dir.File("root.crt"), "not read: the server offers no TLS");
        var info = PgConnectionInfo.Parse(CliRunner.Url(db).Replace("sslmode=disable", "sslmode=prefer&sslrootcert=" + Uri.EscapeDataString(dir.File("root.crt")), StringComparison.Ordinal), NoEnvironment);

        await using var replication = await Db.OpenReplicationAsync(info, "source", "test", CancellationToken.None);

        Assert.True(replication.ProcessID > 0);
    }
}

using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Tls;

/// <summary>
/// The replication sessions of an online migration follow libpq's TLS rules like every other session (the
/// replication protocol takes no certificate callback: a probe session checks the server first), and
/// `migrate --online` refuses a server libpq would refuse before it creates anything on either side.
/// </summary>
public class TlsReplicationTests(TlsServer server) : IClassFixture<TlsServer>
{
    private string Ca => Uri.EscapeDataString(server.CaFile);

    private string WrongCa => Uri.EscapeDataString(server.WrongCaFile);

    [Fact]
    public async Task Should_Refuse_A_Replication_Session_To_A_Server_The_CRL_Revokes()
    {
        var db = await ReplicatingDatabaseAsync("crl");

        var e = await Assert.ThrowsAsync<PgRelocateException>(() =>
            Db.OpenReplicationAsync(PgConnectionInfo.Parse(server.Url(db, $"sslmode=verify-ca&sslrootcert={Ca}&sslcrl={Uri.EscapeDataString(server.RevokedCrlFile)}")), "source", "test", CancellationToken.None));

        Assert.Contains("is revoked by revoked.crl", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("require&sslrootcert=CA", true)]
    [InlineData("prefer&sslrootcert=WRONG", false)]
    [InlineData("require", true)]
    public async Task Should_Open_A_Replication_Session_Encrypted_Exactly_When_Libpq_Would(string mode, bool encrypted)
    {
        var db = await ReplicatingDatabaseAsync("mode");
        var query = "sslmode=" + mode.Replace("=CA", "=" + Ca, StringComparison.Ordinal).Replace("=WRONG", "=" + WrongCa, StringComparison.Ordinal);

        await using var replication = await Db.OpenReplicationAsync(PgConnectionInfo.Parse(server.Url(db, query)), "source", "test", CancellationToken.None);

        Assert.Equal(encrypted, await PgServer.ScalarAsync<bool>(server.Cluster.Superuser(db.Database), $"SELECT ssl FROM pg_stat_ssl WHERE pid = {replication.ProcessID}"));
    }

    [Theory]
    [InlineData("source")]
    [InlineData("target")]
    public async Task Should_Refuse_Migrate_Online_With_Require_And_The_Wrong_CA_Before_Creating_Anything(string side)
    {
        var source = await ReplicatingDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 3)");
        var target = await server.CreateDatabaseAsync("dst");
        await server.ExecuteAsync(target.Database, "CREATE TABLE keep AS SELECT g AS id FROM generate_series(1, 5) g");
        var good = $"sslmode=verify-full&sslrootcert={Ca}";
        var wrong = $"sslmode=require&sslrootcert={WrongCa}";
        var sourceUrl = server.Url(source, side == "source" ? wrong : good, side == "source" ? "127.0.0.1" : "localhost");
        var targetUrl = server.Url(target, side == "target" ? wrong : good, side == "target" ? "127.0.0.1" : "localhost");
        var sourceBefore = await ObjectsAsync(source.Database);
        var targetBefore = await ObjectsAsync(target.Database);
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "--online", "-s", sourceUrl, "-t", targetUrl, "--confirm", target.Database, "--workdir", dir.File("work")], null);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"the {side} (", result.Output, StringComparison.Ordinal);
        Assert.Contains("is not signed by wrong-ca.crt", result.Output, StringComparison.Ordinal);
        Assert.Equal(sourceBefore, await ObjectsAsync(source.Database));
        Assert.Equal(targetBefore, await ObjectsAsync(target.Database));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(server.Cluster.Superuser("postgres"), "SELECT count(*) FROM pg_replication_slots"));
        Assert.Equal(5L, await PgServer.ScalarAsync<long>(server.Cluster.Superuser(target.Database), "SELECT count(*) FROM keep"));
    }

    /// <summary>A database owned by a role with the REPLICATION attribute.</summary>
    private async Task<PgConnectionInfo> ReplicatingDatabaseAsync(string prefix)
    {
        var db = await server.CreateDatabaseAsync(prefix);
        await server.ExecuteAsync("postgres", $"ALTER ROLE \"{db.User}\" REPLICATION");
        return db;
    }

    /// <summary>The database's schemas, relations (with their oids) and publications, read as the superuser: what a migration would have created.</summary>
    private async Task<string> ObjectsAsync(string database) =>
        (await PgServer.ScalarAsync<string>(server.Cluster.Superuser(database), """
            SELECT concat_ws(' | ',
                (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
                (SELECT string_agg(relname || ':' || oid, ',' ORDER BY relname) FROM pg_class WHERE oid >= 16384),
                (SELECT count(*) FROM pg_publication))
            """))!;
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Runners;
using PgRelocate.Tools;

namespace PgRelocate.Tests.Tls;

/// <summary>
/// Our sessions and libpq (psql, as pg_dump and pg_restore connect) accept and refuse the same servers,
/// for every sslmode and certificate case, with the same one-line reasons.
/// </summary>
public class TlsConnectionTests(TlsServer server) : IClassFixture<TlsServer>
{
    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();
    private static readonly PgTool PgDump = new PgBinaries().Newest("pg_dump");

    [Fact]
    public async Task Should_Encrypt_Both_Ways_With_Require_And_No_CA_File()
    {
        var db = await server.CreateDatabaseAsync("req");

        var (ours, libpq, encrypted) = await BothAsync(server.Url(db, "sslmode=require"));

        Assert.Null(ours);
        Assert.Null(libpq);
        Assert.True(encrypted);
    }

    [Fact]
    public async Task Should_Verify_The_Server_With_Require_When_A_CA_File_Is_Given_As_Libpq_Does()
    {
        var db = await server.CreateDatabaseAsync("reqca");

        var good = await BothAsync(server.Url(db, "sslmode=require&sslrootcert=" + Uri.EscapeDataString(server.CaFile)));
        var wrong = await BothAsync(server.Url(db, "sslmode=require&sslrootcert=" + Uri.EscapeDataString(server.WrongCaFile)));

        Assert.Null(good.Ours);
        Assert.Null(good.Libpq);
        Assert.NotNull(wrong.Ours);
        Assert.NotNull(wrong.Libpq);
        Assert.StartsWith("Refused the target (", wrong.Ours, StringComparison.Ordinal);
        Assert.Contains("is not signed by wrong-ca.crt", wrong.Ours, StringComparison.Ordinal);
        Assert.Contains("is not signed by wrong-ca.crt", wrong.Libpq, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("verify-ca", "127.0.0.1")]
    [InlineData("verify-full", "localhost")]
    public async Task Should_Connect_Both_Ways_When_The_Certificate_Verifies(string mode, string host)
    {
        var db = await server.CreateDatabaseAsync("verify");

        var (ours, libpq, encrypted) = await BothAsync(server.Url(db, $"sslmode={mode}&sslrootcert=" + Uri.EscapeDataString(server.CaFile), host));

        Assert.Null(ours);
        Assert.Null(libpq);
        Assert.True(encrypted);
    }

    [Fact]
    public async Task Should_Refuse_Both_Ways_When_The_Certificate_Is_For_Another_Host()
    {
        var db = await server.CreateDatabaseAsync("host");

        var (ours, libpq, _) = await BothAsync(server.Url(db, "sslmode=verify-full&sslrootcert=" + Uri.EscapeDataString(server.CaFile)));

        Assert.NotNull(ours);
        Assert.NotNull(libpq);
        Assert.Contains("the server's certificate is for localhost, not 127.0.0.1 (sslmode=verify-full)", ours, StringComparison.Ordinal);
        Assert.Contains("the server's certificate is for localhost, not 127.0.0.1 (sslmode=verify-full)", libpq, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Refuse_Both_Ways_A_Server_Certificate_The_CRL_Revokes()
    {
        var db = await server.CreateDatabaseAsync("crl");
        var query = "sslmode=verify-ca&sslrootcert=" + Uri.EscapeDataString(server.CaFile) + "&sslcrl=";

        var clean = await BothAsync(server.Url(db, query + Uri.EscapeDataString(server.CleanCrlFile)));
        var revoked = await BothAsync(server.Url(db, query + Uri.EscapeDataString(server.RevokedCrlFile)));

        Assert.Null(clean.Ours);
        Assert.Null(clean.Libpq);
        Assert.NotNull(revoked.Ours);
        Assert.NotNull(revoked.Libpq);
        Assert.Contains("is revoked by revoked.crl", revoked.Ours, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Refuse_Both_Ways_To_Verify_Without_A_CA_File()
    {
        var db = await server.CreateDatabaseAsync("noca");

        var (ours, libpq, _) = await BothAsync(server.Url(db, "sslmode=verify-ca"));

        Assert.NotNull(ours);
        Assert.NotNull(libpq);
        Assert.Contains("sslrootcert=PATH", ours, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Fall_Back_To_Plaintext_As_Libpq_Does_When_Prefer_Meets_The_Wrong_CA()
    {
        var db = await server.CreateDatabaseAsync("prefer");

        var (ours, libpq, encrypted) = await BothAsync(server.Url(db, "sslmode=prefer&sslrootcert=" + Uri.EscapeDataString(server.WrongCaFile)));

        Assert.Null(ours);
        Assert.Null(libpq);
        Assert.False(encrypted);
    }

    [Fact]
    public async Task Should_Log_In_Both_Ways_With_A_Client_Certificate()
    {
        var db = await server.CreateCertDatabaseAsync("cert");

        var (ours, libpq, encrypted) = await BothAsync(server.CertUrl(db.Database));

        Assert.Null(ours);
        Assert.Null(libpq);
        Assert.True(encrypted);
    }

    [Fact]
    public async Task Should_Log_In_Both_Ways_With_An_Encrypted_Client_Key_And_Its_Passphrase()
    {
        var db = await server.CreateCertDatabaseAsync("locked");

        var (ours, libpq, encrypted) = await BothAsync(server.CertUrl(db.Database, "locked") + "&sslpassword=" + TlsServer.KeyPassword);

        Assert.Null(ours);
        Assert.Null(libpq);
        Assert.True(encrypted);
    }

    [Theory]
    [InlineData("stranger", "refused the client certificate")]
    [InlineData("forged", "refused the client certificate")]
    [InlineData(null, "requires a client certificate")]
    public async Task Should_Refuse_Both_Ways_A_Missing_Or_Wrong_Client_Certificate(string? cert, string expected)
    {
        var db = await server.CreateCertDatabaseAsync("badcert");
        var url = cert is null
            ? $"postgres://{TlsServer.CertUser}@localhost:{server.Cluster.Port}/{db.Database}?sslmode=verify-full&sslrootcert={Uri.EscapeDataString(server.CaFile)}"
            : server.CertUrl(db.Database, cert);

        var (ours, libpq, _) = await BothAsync(url);

        Assert.NotNull(ours);
        Assert.NotNull(libpq);
        Assert.Contains(expected, ours, StringComparison.Ordinal);
        Assert.Contains(expected, libpq, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ours);
    }

    [Fact]
    public async Task Should_Say_The_Session_Was_Ended_When_The_Connection_Is_Cut_Mid_Session()
    {
        var db = await server.CreateDatabaseAsync("cut");
        var info = PgConnectionInfo.Parse(server.Url(db, "sslmode=require"), NoEnvironment);
        await using var conn = await Db.OpenAsync(info, "source", CancellationToken.None);
        var pid = conn.ProcessID;

        await server.ExecuteAsync("postgres", $"SELECT pg_terminate_backend({pid})");
        var e = await Assert.ThrowsAnyAsync<NpgsqlException>(() => Db.ScalarAsync<int>(conn, "SELECT 1", CancellationToken.None));
        var described = Db.Describe(e, info, "source", connected: true);

        Assert.StartsWith("The source (", described.Message, StringComparison.Ordinal);
        Assert.Contains("run the command again", described.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Could not connect", described.Message, StringComparison.Ordinal);
    }

    /// <summary>Opens our session and runs psql with the same connection; each gives null or its error message.</summary>
    private static async Task<(string? Ours, string? Libpq, bool Encrypted)> BothAsync(string url)
    {
        var info = PgConnectionInfo.Parse(url, NoEnvironment);
        string? ours = null;
        var encrypted = false;
        try
        {
            await using var conn = await Db.OpenAsync(info, "target", CancellationToken.None);
            encrypted = await Db.ScalarAsync<bool>(conn, "SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()", CancellationToken.None);
        }
        catch (PgRelocateException e)
        {
            ours = e.Message;
        }

        string? libpq = null;
        try
        {
            var probe = await LibpqProbe.RunAsync(info, "target", PgDump, CancellationToken.None);
            Assert.True(probe.Connected, probe.SkippedBecause);
        }
        catch (PgRelocateException e)
        {
            libpq = e.Message;
        }

        return (ours, libpq, encrypted);
    }
}

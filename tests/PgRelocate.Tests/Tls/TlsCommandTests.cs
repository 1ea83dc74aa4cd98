using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Tls;

/// <summary>
/// Every command that connects, over verified TLS and with client certificates: our sessions and the
/// libpq programs (pg_dump, pg_restore) connect alike, and a certificate that is refused stops the command
/// before anything happens to the target.
/// </summary>
[Heavy(85)]
public class TlsCommandTests(TlsServer server) : IClassFixture<TlsServer>
{
    private string Ca => Uri.EscapeDataString(server.CaFile);

    [Fact]
    public async Task Should_Check_Dump_Restore_And_Verify_With_Client_Certificates_On_Both_Sides()
    {
        var source = await SeededCertDatabaseAsync("src");
        var target = await server.CreateCertDatabaseAsync("dst");
        using var dir = new TempDir();

        var check = await CliRunner.RunAsync("check", "--source", server.CertUrl(source.Database), "--target", server.CertUrl(target.Database));
        var dump = await CliRunner.RunAsync("dump", "--source", server.CertUrl(source.Database), "--to", dir.File("a.dump"));
        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", server.CertUrl(target.Database));
        var verify = await CliRunner.RunAsync("verify", "--source", server.CertUrl(source.Database), "--target", server.CertUrl(target.Database));

        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Equal(3L, await CountAsync(target, "t"));
    }

    [Fact]
    public async Task Should_Copy_And_Migrate_With_A_Verified_Source_And_A_Client_Certificate_Target()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 3) g");
        var sourceUrl = server.Url(source, "sslmode=verify-full&sslrootcert=" + Ca, "localhost");
        var copied = await server.CreateCertDatabaseAsync("copy");
        var migrated = await server.CreateCertDatabaseAsync("mig");
        using var dir = new TempDir();

        var copy = await CliRunner.RunAsync("copy", "--source", sourceUrl, "--target", server.CertUrl(copied.Database));
        var migrate = await CliRunner.RunAsync(["migrate", "-s", sourceUrl, "-t", server.CertUrl(migrated.Database), "--confirm", migrated.Database, "--workdir", dir.Path], null);

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        Assert.Equal(3L, await CountAsync(copied, "t"));
        Assert.Equal(3L, await CountAsync(migrated, "t"));
    }

    [Theory]
    [InlineData("check")]
    [InlineData("restore")]
    [InlineData("copy")]
    [InlineData("verify")]
    [InlineData("migrate")]
    public async Task Should_Stop_Before_Touching_The_Target_When_It_Refuses_The_Client_Certificate(string command)
    {
        var result = await RunAgainstRefusingTargetAsync(command, t => server.CertUrl(t.Database, "forged"), cert: true);

        Assert.Contains("refused the client certificate", result, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("check")]
    [InlineData("restore")]
    [InlineData("copy")]
    [InlineData("verify")]
    [InlineData("migrate")]
    public async Task Should_Stop_Before_Touching_The_Target_When_Require_Meets_The_Wrong_CA(string command)
    {
        var result = await RunAgainstRefusingTargetAsync(command, t => server.Url(t, "sslmode=require&sslrootcert=" + Uri.EscapeDataString(server.WrongCaFile)), cert: false);

        Assert.Contains("is not signed by wrong-ca.crt", result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Dump_With_An_Encrypted_Client_Key_Without_Asking_For_Its_Passphrase()
    {
        var source = await SeededCertDatabaseAsync("locked");
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync("dump", "--source", server.CertUrl(source.Database, "locked") + "&sslpassword=" + TlsServer.KeyPassword, "--to", dir.File("a.dump"));

        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.True(new FileInfo(dir.File("a.dump")).Length > 0);
    }

    [Fact]
    public async Task Should_Refuse_To_Dump_From_A_Server_Its_CA_File_Does_Not_Verify()
    {
        var source = await server.CreateDatabaseAsync("src");
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync("dump", "--source", server.Url(source, "sslmode=require&sslrootcert=" + Uri.EscapeDataString(server.WrongCaFile)), "--to", dir.File("a.dump"));

        Assert.Equal(1, dump.ExitCode);
        Assert.Contains("is not signed by wrong-ca.crt", OneErrorLine(dump), StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("a.dump")));
    }

    [Fact]
    public async Task Should_Verify_With_The_Default_CA_File_In_The_Home_Folder_As_Libpq_Does()
    {
        var target = await server.CreateDatabaseAsync("home");
        using var home = new TempDir();
        Directory.CreateDirectory(home.File(".postgresql"));
        File.Copy(server.WrongCaFile, Path.Combine(home.File(".postgresql"), "root.crt"));

        var check = await CliRunner.RunAsync(["check", "--source", server.Url(target, "sslmode=require")], new Dictionary<string, string> { ["HOME"] = home.Path });

        Assert.Equal(1, check.ExitCode);
        Assert.Contains("is not signed by root.crt", OneErrorLine(check), StringComparison.Ordinal);
    }

    /// <summary>Runs <paramref name="command"/> into a target holding rows; asserts the rows are intact and returns the one error line.</summary>
    private async Task<string> RunAgainstRefusingTargetAsync(string command, Func<PgConnectionInfo, string> targetUrl, bool cert)
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 3) g");
        var sourceUrl = server.Url(source, "sslmode=verify-full&sslrootcert=" + Ca, "localhost");
        var target = cert ? await server.CreateCertDatabaseAsync("dst") : await server.CreateDatabaseAsync("dst");
        await server.ExecuteAsync(target.Database, "CREATE TABLE keep AS SELECT g AS id FROM generate_series(1, 5) g");
        using var dir = new TempDir();
        if (command == "restore")
        {
            var dump = await CliRunner.RunAsync("dump", "--source", sourceUrl, "--to", dir.File("a.dump"));
            Assert.True(dump.ExitCode == 0, dump.ToString());
        }

        var url = targetUrl(target);
        string[] args = command switch
        {
            "check" => ["check", "--source", sourceUrl, "--target", url],
            "restore" => ["restore", dir.File("a.dump"), "--target", url, "--confirm", target.Database],
            "copy" => ["copy", "--source", sourceUrl, "--target", url, "--confirm", target.Database],
            "verify" => ["verify", "--source", sourceUrl, "--target", url],
            _ => ["migrate", "-s", sourceUrl, "-t", url, "--confirm", target.Database, "--workdir", dir.File("work")],
        };

        var result = await CliRunner.RunAsync(args, null);

        Assert.True(result.ExitCode == 1, result.ToString());
        // migrate reports a failure inside a step in its step table and one "failed:" line, then how to resume; one
        // that cannot even take its lock on the target fails before any step, as the other commands do.
        var line = command == "migrate" && result.Stdout.Contains(" failed: ", StringComparison.Ordinal)
            ? result.Stdout.Split('\n').Single(l => l.Contains(" failed: ", StringComparison.Ordinal))
            : OneErrorLine(result);
        Assert.Contains("the target (", line, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(5L, await PgServer.ScalarAsync<long>(server.Cluster.Superuser(target.Database), "SELECT count(*) FROM keep"));
        return line;
    }

    private static string OneErrorLine(CliResult result)
    {
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, result.ToString());
        Assert.DoesNotContain("unexpected failure", lines[0], StringComparison.Ordinal);
        return lines[0];
    }

    private async Task<PgConnectionInfo> SeededCertDatabaseAsync(string prefix)
    {
        var db = await server.CreateCertDatabaseAsync(prefix);
        await using var conn = await Db.OpenAsync(PgConnectionInfo.Parse(server.CertUrl(db.Database)), "source", CancellationToken.None);
        await Db.ExecuteAsync(conn, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 3)", CancellationToken.None);
        return db;
    }

    private async Task<long> CountAsync(PgConnectionInfo db, string table) =>
        await PgServer.ScalarAsync<long>(server.Cluster.Superuser(db.Database), $"SELECT count(*) FROM {table}");
}

using System.Diagnostics;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Demo;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>dump → file → restore between two real clusters, and every way the input can be wrong.</summary>
[Heavy(70)]
public class DumpRestoreTests(DumpRestoreTests.Servers servers) : IClassFixture<DumpRestoreTests.Servers>
{
    /// <summary>A source and a target cluster, and one sample database dumped once for the restore tests.</summary>
    public sealed class Servers : PgServerPair
    {
        public PgConnectionInfo Sample { get; private set; } = null!;

        public TempDir Dir { get; } = new();

        public string Archive => Dir.File("sample.dump");

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Sample = await Source.CreateDatabaseAsync("sample");
            await SampleDatabase.LoadAsync(Source.Cluster, Sample, CancellationToken.None);
            var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(Sample), "--to", Archive);
            Assert.True(dump.ExitCode == 0, dump.ToString());
        }

        public override async Task DisposeAsync()
        {
            await base.DisposeAsync();
            Dir.Dispose();
        }
    }

    [Fact]
    public async Task Should_Reproduce_Every_Table_Sequence_And_Large_Object_With_Ownership_Reassigned()
    {
        var target = await servers.Target.CreateDatabaseAsync("restored");

        var restore = await CliRunner.RunAsync("restore", servers.Archive, "--target", CliRunner.Url(target), "--jobs", "2");

        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Contains("Completed", restore.Stdout, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(servers.Sample, target);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(servers.Sample), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Equal(0, await DatabaseSnapshot.SampleObjectsNotOwnedByLoginAsync(target));
        // pg_stats is written by ANALYZE in its own transaction (pg_stat_user_tables.last_analyze is flushed later).
        var notAnalyzed = await PgServer.ScalarAsync<long>(target, """
            SELECT count(*) FROM pg_tables t
            WHERE t.schemaname IN ('shop', 'billing', 'reporting')
              AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = t.schemaname AND s.tablename = t.tablename)
            """);
        Assert.Equal(0, notAnalyzed);
    }

    [Fact]
    public async Task Should_Write_A_Manifest_That_Describes_The_Archive()
    {
        var manifest = PgRelocate.Archives.DumpManifest.FromJson(await File.ReadAllTextAsync(servers.Archive + ".manifest.json"), "manifest");

        Assert.Equal(new FileInfo(servers.Archive).Length, manifest.ArchiveBytes);
        using var sha = System.Security.Cryptography.SHA256.Create();
        await using var file = File.OpenRead(servers.Archive);
        Assert.Equal(Convert.ToHexStringLower(await sha.ComputeHashAsync(file)), manifest.Sha256);
        Assert.Contains(manifest.Extensions, e => e.Name == "hstore");
        Assert.Contains(manifest.Tables, t => t.Schema == "shop" && t.Name == "orders" && t.EstimatedRows > 0);
        Assert.Equal(1, manifest.LargeObjects);
        Assert.False(File.Exists(servers.Archive + ".partial"));
    }

    [Fact]
    public async Task Should_Migrate_A_Database_The_Tests_Have_Never_Seen()
    {
        var source = await servers.Source.CreateDatabaseAsync("bench");
        var bin = PgRelocate.Clusters.ServerBinaries.Newest();
        var psi = new ProcessStartInfo(Path.Combine(bin, "pgbench"), ["-i", "-s", "2", "-q", "--foreign-keys"]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var (k, v) in source.ToLibpqEnvironment())
        {
            psi.Environment[k] = v;
        }

        using (var p = Process.Start(psi)!)
        {
            await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }

        var target = await servers.Target.CreateDatabaseAsync("bench_restored");
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync("dump", "-s", CliRunner.Url(source), "-o", dir.File("bench.dump"), "--json");
        var restore = await CliRunner.RunAsync("restore", dir.File("bench.dump"), "-t", CliRunner.Url(target), "--json");

        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Contains("\"sha256\"", dump.Stdout, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Fact]
    public async Task Should_Refuse_A_Non_Empty_Target_Without_Confirm_And_Leave_It_Unchanged()
    {
        var target = await servers.Target.CreateDatabaseAsync("busy");
        await PgServer.ExecuteAsync(target, "CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1), (2)");
        var before = await DatabaseSnapshot.TakeAsync(target);

        var refused = await CliRunner.RunAsync("restore", servers.Archive, "--target", CliRunner.Url(target));
        var wrongName = await CliRunner.RunAsync("restore", servers.Archive, "--target", CliRunner.Url(target), "--confirm", "some_other_db");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"--confirm {target.Database}", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, wrongName.ExitCode);
        Assert.Contains("does not match", wrongName.Stderr, StringComparison.Ordinal);
        Assert.Contains("table public.keep_me rows and digest 2 ", string.Join('\n', before), StringComparison.Ordinal);
        Assert.Equal(before, await DatabaseSnapshot.TakeAsync(target));
    }

    [Fact]
    public async Task Should_Replace_A_Non_Empty_Target_With_Confirm()
    {
        var target = await servers.Target.CreateDatabaseAsync("replace");
        await PgServer.ExecuteAsync(target, "CREATE SCHEMA old; CREATE TABLE old.t (id int); CREATE TABLE public.stale (x int); SELECT lo_from_bytea(0, 'x')");

        var restore = await CliRunner.RunAsync("restore", servers.Archive, "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(restore.ExitCode == 0, restore.ToString());
        await DatabaseSnapshot.AssertSameAsync(servers.Sample, target);
    }

    [Theory]
    [InlineData("html", "HTML page")]
    [InlineData("empty", "is empty")]
    [InlineData("truncated", "truncated")]
    [InlineData("truncated-with-manifest", "truncated")]
    [InlineData("s3-error", "Request has expired")]
    [InlineData("sql", "plain SQL dump")]
    public async Task Should_Refuse_A_File_That_Is_Not_A_Whole_Archive_Before_Touching_The_Target(string kind, string expected)
    {
        var target = await servers.Target.CreateDatabaseAsync("untouched");
        await PgServer.ExecuteAsync(target, "CREATE TABLE sentinel (id int)");
        var before = await DatabaseSnapshot.TakeAsync(target);
        using var dir = new TempDir();
        var file = dir.File("bad.dump");
        var archive = await File.ReadAllBytesAsync(servers.Archive);
        switch (kind)
        {
            case "html":
                await File.WriteAllTextAsync(file, "<!DOCTYPE html><html><body>Sign in</body></html>");
                break;
            case "empty":
                await File.WriteAllBytesAsync(file, []);
                break;
            case "truncated":
                await File.WriteAllBytesAsync(file, archive[..(archive.Length / 2)]);
                break;
            case "truncated-with-manifest":
                await File.WriteAllBytesAsync(file, archive[..(archive.Length - 100)]);
                File.Copy(servers.Archive + ".manifest.json", file + ".manifest.json");
                break;
            case "s3-error":
                await File.WriteAllTextAsync(file, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>");
                break;
            case "sql":
                await File.WriteAllTextAsync(file, "--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n");
                break;
        }

        var result = await CliRunner.RunAsync("restore", file, "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.Trim().Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Equal(before, await DatabaseSnapshot.TakeAsync(target));
    }

    [Fact]
    public async Task Should_Refuse_Bad_Connections_With_One_Line_And_The_Documented_Exit_Code()
    {
        var db = servers.Sample;
        using var dir = new TempDir();
        var port = servers.Source.Cluster.Port;

        var malformed = await CliRunner.RunAsync("dump", "--source", "postgres://u:p@host:notaport/db", "--to", dir.File("a.dump"));
        var unknownHost = await CliRunner.RunAsync("dump", "--source", "postgres://u:p@no-such-host.invalid:5432/db", "--to", dir.File("a.dump"));
        var wrongPassword = await CliRunner.RunAsync("dump", "--source", $"postgres://{db.User}:wrong-password@127.0.0.1:{port}/{db.Database}?sslmode=disable", "--to", dir.File("a.dump"));
        var noDatabase = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(db.WithDatabase("does_not_exist")), "--to", dir.File("a.dump"));
        var noFolder = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(db), "--to", dir.File("missing/a.dump"));
        var unknownFlag = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(db), "--to", dir.File("a.dump"), "--frobnicate");

        Assert.Equal(2, malformed.ExitCode);
        Assert.Equal(1, unknownHost.ExitCode);
        Assert.Contains("could not be resolved", unknownHost.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, wrongPassword.ExitCode);
        Assert.Contains("Password authentication failed", wrongPassword.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", wrongPassword.Output, StringComparison.Ordinal);
        Assert.Equal(1, noDatabase.ExitCode);
        Assert.Contains("does not exist", noDatabase.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, noFolder.ExitCode);
        Assert.Contains("does not exist", noFolder.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, unknownFlag.ExitCode);
        foreach (var r in new[] { malformed, unknownHost, wrongPassword, noDatabase, noFolder, unknownFlag })
        {
            Assert.Single(r.Stderr.Trim().Split('\n'));
            Assert.Empty(dir.Path is var p && Directory.Exists(p) ? Directory.GetFiles(p) : []);
        }
    }

    [Fact]
    public async Task Should_Never_Put_The_Password_On_A_Command_Line()
    {
        // pg_dump waits for the lock this session holds, so it is still running while we read /proc.
        var db = servers.Sample;
        await using var blocker = new NpgsqlConnection(servers.Source.Cluster.Superuser(db.Database).ToNpgsqlConnectionString());
        await blocker.OpenAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand("LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE", blocker, tx))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        using var dir = new TempDir();
        var password = new NpgsqlConnectionStringBuilder(db.ToNpgsqlConnectionString()).Password!;
        var run = CliRunner.RunAsync("dump", "--source", CliRunner.Url(db), "--to", dir.File("locked.dump"));
        string? cmdline = null;
        await Eventually.Holds(
            () => (cmdline = Directory.GetDirectories("/proc")
                .Select(d => Path.Combine(d, "cmdline"))
                .Select(f => { try { return File.ReadAllText(f).Replace('\0', ' '); } catch (IOException) { return ""; } catch (UnauthorizedAccessException) { return ""; } })
                .FirstOrDefault(c => c.Contains("pg_dump", StringComparison.Ordinal) && c.Contains("--format=custom", StringComparison.Ordinal))) is not null,
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));

        await tx.RollbackAsync();
        var result = await run;

        Assert.NotNull(cmdline);
        Assert.DoesNotContain(password, cmdline, StringComparison.Ordinal);
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}

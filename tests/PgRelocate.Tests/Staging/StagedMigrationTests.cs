using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Demo;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

/// <summary>A source with the sample database, dumped through the CLI, and a target cluster to restore into.</summary>
public sealed class MigrationServers : PgServerPair
{
    public PgConnectionInfo Sample { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Sample = await Source.CreateDatabaseAsync("sample");
        await SampleDatabase.LoadAsync(Source.Cluster, Sample, CancellationToken.None);
    }

    /// <summary>Every user table with its row count: equal on both sides means the restore is complete.</summary>
    public static async Task<string> RowCountsAsync(PgConnectionInfo db)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT coalesce(string_agg(n.nspname || '.' || c.relname || '=' ||
                   (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text, ', ' ORDER BY n.nspname, c.relname), '')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
            """, conn);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>The URL printed by 'pgrelocate url': its signature is registered as a secret for every later output.</summary>
    public static string UrlFrom(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        var url = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0].Trim();
        TestStores.RegisterSignature(new Uri(url));
        Assert.DoesNotContain("ig=", result.Stderr, StringComparison.Ordinal);
        return url;
    }
}

[Collection(SwiftCollection.Name)]
public sealed class SwiftMigrationTests(SwiftServer swift, MigrationServers db) : IClassFixture<MigrationServers>
{
    private readonly string _bucket = TestStores.NewName("stage");

    private Dictionary<string, string> Env => new()
    {
        ["AWS_ACCESS_KEY_ID"] = swift.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = swift.SecretKey,
        ["AWS_ENDPOINT_URL"] = swift.Endpoint,
    };

    private async Task<string> DumpAsync(string key)
    {
        var dump = await CliRunner.RunAsync(["dump", "--source", CliRunner.Url(db.Sample), "--to", $"s3://{_bucket}/{key}", "--create-bucket", "--sse", "none"], Env);
        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.Contains($"s3://{_bucket}/{key}", dump.Stdout, StringComparison.Ordinal);
        return $"s3://{_bucket}/{key}";
    }

    [Fact]
    public async Task Should_Dump_To_S3_Sign_A_Url_And_Restore_From_It()
    {
        var location = await DumpAsync("app.dump");
        var target = await db.Target.CreateDatabaseAsync("from_url");

        var url = MigrationServers.UrlFrom(await CliRunner.RunAsync(["url", location, "--expires", "10m", "--heroku-app", "acme"], Env));
        var restore = await CliRunner.RunAsync(["restore", url, "--target", CliRunner.Url(target)], Env);

        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Equal(await MigrationServers.RowCountsAsync(db.Sample), await MigrationServers.RowCountsAsync(target));
        Assert.Contains("(signed, expires", restore.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Sign_The_Manifest_Too_And_Check_A_Signed_Url_Against_It()
    {
        var location = await DumpAsync("signed.dump");
        var target = await db.Target.CreateDatabaseAsync("signed");
        var other = await db.Target.CreateDatabaseAsync("unchecked");

        var signed = await CliRunner.RunAsync(["url", location, "--with-manifest"], Env);
        var url = MigrationServers.UrlFrom(signed);
        var manifestUrl = signed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Trim();
        TestStores.RegisterSignature(new Uri(manifestUrl));
        var restore = await CliRunner.RunAsync(["restore", url, "--target", CliRunner.Url(target), "--manifest", manifestUrl], Env);
        var plain = await CliRunner.RunAsync(["restore", url, "--target", CliRunner.Url(other)], Env);

        Assert.Contains("/signed.dump.manifest.json?", manifestUrl, StringComparison.Ordinal);
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Contains("SHA-256 matches the manifest", restore.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("identity was not checked", restore.Output, StringComparison.Ordinal);
        Assert.Equal(await MigrationServers.RowCountsAsync(db.Sample), await MigrationServers.RowCountsAsync(target));
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("The archive's identity was not checked", plain.Stderr, StringComparison.Ordinal);
        Assert.Contains("--with-manifest", plain.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ig=", restore.Output + plain.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Print_The_Heroku_Restore_Command_With_The_Url()
    {
        var location = await DumpAsync("heroku.dump");

        var result = await CliRunner.RunAsync(["url", location, "--heroku-app", "acme", "--heroku-db", "HEROKU_POSTGRESQL_RED"], Env);
        var url = MigrationServers.UrlFrom(result);

        Assert.Contains($"heroku pg:backups:restore '{url}' HEROKU_POSTGRESQL_RED --app acme --confirm acme", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Restore_Straight_From_S3_In_Parallel_Checking_The_Manifest_Then_Remove_It()
    {
        var location = await DumpAsync("parallel.dump");
        var target = await db.Target.CreateDatabaseAsync("parallel");

        var restore = await CliRunner.RunAsync(["restore", location, "--target", CliRunner.Url(target), "--jobs", "2"], Env);
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Contains("SHA-256 matches the manifest", restore.Output, StringComparison.Ordinal);
        Assert.Equal(await MigrationServers.RowCountsAsync(db.Sample), await MigrationServers.RowCountsAsync(target));

        var rm = await CliRunner.RunAsync(["staged", "rm", location], Env);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        var store = TestStores.S3(swift, _bucket);
        Assert.Null(await store.StatAsync("parallel.dump", CancellationToken.None));
        Assert.Null(await store.StatAsync("parallel.dump.manifest.json", CancellationToken.None));
    }

    [Fact]
    public async Task Should_Complete_A_Restore_Whose_Download_Is_Cut_In_The_Middle()
    {
        var location = await DumpAsync("cut.dump");
        var size = (await TestStores.S3(swift, _bucket).StatAsync("cut.dump", CancellationToken.None))!.Size;
        await using var proxy = new CuttingProxy(swift.Port, afterBytes: size / 2, CutDirection.Download, cuts: 1);
        var target = await db.Target.CreateDatabaseAsync("cut");

        var url = MigrationServers.UrlFrom(await CliRunner.RunAsync(["url", location, "--endpoint-url", proxy.Endpoint], Env));
        var restore = await CliRunner.RunAsync(["restore", url, "--target", CliRunner.Url(target)], Env);

        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Equal(1, proxy.Cuts);
        Assert.Contains("interrupted at byte", restore.Output, StringComparison.Ordinal);
        Assert.Equal(await MigrationServers.RowCountsAsync(db.Sample), await MigrationServers.RowCountsAsync(target));
    }

    [Fact]
    public async Task Should_Refuse_An_Expired_Url_And_Leave_The_Target_Untouched()
    {
        var location = await DumpAsync("expired.dump");
        var target = await db.Target.CreateDatabaseAsync("expired");
        var url = MigrationServers.UrlFrom(await CliRunner.RunAsync(["url", location, "--expires", "1s"], Env));

        // Time must pass: the URL expires a second after it was made.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var restore = await CliRunner.RunAsync(["restore", url, "--target", CliRunner.Url(target)], Env);

        Assert.NotEqual(0, restore.ExitCode);
        Assert.Contains("expired", restore.Stderr, StringComparison.Ordinal);
        Assert.Contains("pgrelocate url", restore.Stderr, StringComparison.Ordinal);
        Assert.Equal("", await MigrationServers.RowCountsAsync(target));
    }

    [Fact]
    public async Task Should_Refuse_A_Tampered_Url_And_Leave_The_Target_Untouched()
    {
        var location = await DumpAsync("tampered.dump");
        var target = await db.Target.CreateDatabaseAsync("tampered");
        var url = MigrationServers.UrlFrom(await CliRunner.RunAsync(["url", location], Env));
        var at = url.IndexOf("X-Amz-Signature=", StringComparison.Ordinal) + "X-Amz-Signature=".Length;

        var restore = await CliRunner.RunAsync(["restore", url[..at] + (url[at] == '0' ? '1' : '0') + url[(at + 1)..], "--target", CliRunner.Url(target)], Env);

        Assert.NotEqual(0, restore.ExitCode);
        Assert.Contains("signature", restore.Stderr, StringComparison.Ordinal);
        Assert.Equal("", await MigrationServers.RowCountsAsync(target));
    }

    [Fact]
    public async Task Should_Name_Create_Bucket_When_The_Bucket_Is_Missing()
    {
        var dump = await CliRunner.RunAsync(["dump", "--source", CliRunner.Url(db.Sample), "--to", $"s3://{TestStores.NewName("nobucket")}/a.dump", "--sse", "none"], Env);

        Assert.Equal(1, dump.ExitCode);
        Assert.Contains("--create-bucket", dump.Stderr, StringComparison.Ordinal);
        Assert.Single(dump.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Should_Migrate_Via_S3_With_A_Verified_Result_And_Remove_The_Staged_Archive()
    {
        var target = await db.Target.CreateDatabaseAsync("migrated_via_s3");
        using var dir = new TempDir();

        var migrate = await CliRunner.RunAsync(
            ["migrate", "--source", CliRunner.Url(db.Sample), "--target", CliRunner.Url(target), "--confirm", target.Database,
             "--via", $"s3://{_bucket}/migrate.dump", "--create-bucket", "--sse", "none", "--workdir", dir.Path, "--report", dir.File("report.html")], Env);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(db.Sample), "--target", CliRunner.Url(target));
        var gone = await CliRunner.RunAsync(["restore", $"s3://{_bucket}/migrate.dump", "--target", CliRunner.Url(target)], Env);

        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        Assert.Contains("signed URL checked", migrate.Stdout, StringComparison.Ordinal);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.NotEqual(0, gone.ExitCode);
        var report = await File.ReadAllTextAsync(dir.File("report.html"));
        Assert.Contains("(signed, expires", report, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Amz-Signature", report, StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Finish_Verified_When_Killed_During_The_Restore_And_Resumed()
    {
        var target = await db.Target.CreateDatabaseAsync("resumed_via_s3");
        using var dir = new TempDir();
        string[] args = ["migrate", "--source", CliRunner.Url(db.Sample), "--target", CliRunner.Url(target), "--confirm", target.Database,
                         "--via", $"s3://{_bucket}/resume.dump", "--create-bucket", "--sse", "none", "--jobs", "1", "--workdir", dir.Path];

        var killed = await CliRunner.RunAsync(args, new Dictionary<string, string>(Env) { [PgRelocate.Migration.FaultInjection.Variable] = "kill:restore:progress" });
        var id = PgRelocate.Migration.MigrationJournal.All(dir.Path).Single().Id;
        var resumed = await CliRunner.RunAsync(["migrate", "--resume", id, "--source", CliRunner.Url(db.Sample), "--target", CliRunner.Url(target), "--workdir", dir.Path], Env);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(db.Sample), "--target", CliRunner.Url(target));

        Assert.Equal(137, killed.ExitCode);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("dump: done in a previous run", resumed.Stderr, StringComparison.Ordinal);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class AzuriteMigrationTests(AzuriteServer azurite, MigrationServers db) : IClassFixture<MigrationServers>
{
    [Fact]
    public async Task Should_Dump_To_Azure_Sign_A_Sas_Url_And_Restore_From_It()
    {
        var env = new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.ConnectionString };
        var location = $"azure://{AzuriteServer.Account}/{TestStores.NewName("stage")}/app.dump";
        var target = await db.Target.CreateDatabaseAsync("from_sas");

        var dump = await CliRunner.RunAsync(["dump", "--source", CliRunner.Url(db.Sample), "--to", location, "--create-bucket"], env);
        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.Contains("encrypts every blob at rest", dump.Stderr, StringComparison.Ordinal);
        var url = MigrationServers.UrlFrom(await CliRunner.RunAsync(["url", location, "--expires", "5m"], env));
        Assert.Contains("sp=r", url, StringComparison.Ordinal);
        var restore = await CliRunner.RunAsync(["restore", url, "--target", CliRunner.Url(target)], env);

        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Equal(await MigrationServers.RowCountsAsync(db.Sample), await MigrationServers.RowCountsAsync(target));
    }
}

public sealed class UrlCommandUsageTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-5m")]
    [InlineData("8d")]
    [InlineData("soon")]
    public async Task Should_Refuse_An_Expiry_Outside_One_Second_To_Seven_Days(string expires)
    {
        var result = await CliRunner.RunAsync("url", "s3://bucket/a.dump", "--expires", expires);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--expires", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Should_Refuse_To_Sign_A_Local_File()
    {
        var result = await CliRunner.RunAsync("url", "/tmp/a.dump");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("s3://", result.Stderr, StringComparison.Ordinal);
    }
}

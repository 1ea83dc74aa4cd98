using System.Text.Json.Nodes;
using PgRelocate.Connections;
using PgRelocate.Tests.Copy;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;
using PgRelocate.Tests.Staging;

namespace PgRelocate.Tests.Restore;

/// <summary>A source whose names need quoting everywhere (spaces, dots, quotes, non-ASCII), dumped once to a file with its manifest.</summary>
public sealed class QuotedNamesArchive : PgServerPair
{
    public const string Sql = """
        CREATE SCHEMA "Sales Dept";
        CREATE TABLE "Sales Dept"."Order Lines" (id int PRIMARY KEY, "Item.Name" text NOT NULL, note text);
        CREATE INDEX "by ""item"" ü" ON "Sales Dept"."Order Lines" ("Item.Name");
        CREATE TABLE "Sales Dept"."Kunden.ß" (id int PRIMARY KEY, line int REFERENCES "Sales Dept"."Order Lines" (id));
        CREATE INDEX "Kunden line" ON "Sales Dept"."Kunden.ß" (line);
        CREATE TABLE public."we;ird" (id int PRIMARY KEY, v text);
        INSERT INTO "Sales Dept"."Order Lines" SELECT g, 'item ' || g, md5(g::text) FROM generate_series(1, 20000) g;
        INSERT INTO "Sales Dept"."Kunden.ß" SELECT g, g FROM generate_series(1, 5000) g;
        INSERT INTO public."we;ird" SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 20000) g;
        """;

    private readonly TempDir _dir = new();

    public PgConnectionInfo Database { get; private set; } = null!;

    public string Archive => _dir.File("names.dump");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Database = await Source.CreateDatabaseAsync("names");
        await PgServer.ExecuteAsync(Database, Sql);
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(Database), "--to", Archive);
        Assert.True(dump.ExitCode == 0, dump.ToString());
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>A target that already holds a table and rows: a restore that is refused must leave them.</summary>
    public async Task<PgConnectionInfo> TargetWithRowsAsync(string prefix)
    {
        var target = await Target.CreateDatabaseAsync(prefix);
        await PgServer.ExecuteAsync(target, "CREATE TABLE keep (id int PRIMARY KEY); INSERT INTO keep SELECT generate_series(1, 100);");
        return target;
    }

    public static async Task AssertUntouchedAsync(PgConnectionInfo target, CliResult restore)
    {
        Assert.True(restore.ExitCode == 2, restore.ToString());
        Assert.Equal(100L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM keep"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'Sales Dept'"));
    }
}

/// <summary>
/// A truncated or damaged archive, or one that does not match its manifest, is refused before the target is
/// touched, whether it is a file, an http(s) URL or an object in a store, with one job or several.
/// </summary>
[Collection(S3rverCollection.Name)]
public sealed class DamagedArchiveTests(S3rverServer s3, QuotedNamesArchive db) : IClassFixture<QuotedNamesArchive>
{
    private readonly string _bucket = TestStores.NewName("damaged");

    private Dictionary<string, string> Env => new()
    {
        ["AWS_ACCESS_KEY_ID"] = s3.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = s3.SecretKey,
        ["AWS_ENDPOINT_URL"] = s3.Endpoint,
    };

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var damage in new[] { "truncated", "ten bytes" })
        {
            foreach (var where in new[] { "file", "url", "s3" })
            {
                foreach (var jobs in new[] { "1", "2" })
                {
                    data.Add(damage, where, jobs);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Should_Refuse_A_Damaged_Archive_Without_A_Manifest_And_Leave_The_Target_Untouched(string damage, string where, string jobs)
    {
        var whole = await File.ReadAllBytesAsync(db.Archive);
        var bytes = damage == "truncated" ? whole[..(whole.Length * 6 / 10)] : whole[..10];
        using var dir = new TempDir();
        var target = await db.TargetWithRowsAsync("damaged");

        var location = await PlaceAsync(where, bytes, dir);
        var restore = await CliRunner.RunAsync(["restore", location, "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", jobs], Env);

        await QuotedNamesArchive.AssertUntouchedAsync(target, restore);
        Assert.Matches("truncated|damaged|ends inside|end of file", restore.Stderr);
    }

    [Theory]
    [InlineData("url")]
    [InlineData("s3")]
    public async Task Should_Refuse_An_Archive_That_Does_Not_Match_Its_Manifest_With_Two_Jobs_And_Leave_The_Target_Untouched(string where)
    {
        // Same size, another SHA-256: only reading every byte finds it, and it must be found before the target is touched.
        using var dir = new TempDir();
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(db.Archive + ".manifest.json"))!;
        var sha = (string)manifest["sha256"]!;
        manifest["sha256"] = (sha[0] == '0' ? "1" : "0") + sha[1..];
        await File.WriteAllTextAsync(dir.File("wrong.manifest.json"), manifest.ToJsonString());
        var target = await db.TargetWithRowsAsync("mismatch");

        var location = await PlaceAsync(where, await File.ReadAllBytesAsync(db.Archive), dir);
        var restore = await CliRunner.RunAsync(["restore", location, "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2", "--manifest", dir.File("wrong.manifest.json")], Env);

        await QuotedNamesArchive.AssertUntouchedAsync(target, restore);
        Assert.Contains("manifest", restore.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("url", "2")]
    [InlineData("s3", "2")]
    [InlineData("url", "1")]
    public async Task Should_Restore_Quoted_Names_From_A_Store_Or_Url(string where, string jobs)
    {
        using var dir = new TempDir();
        var target = await db.Target.CreateDatabaseAsync("names_restored");

        var location = await PlaceAsync(where, await File.ReadAllBytesAsync(db.Archive), dir);
        var restore = await CliRunner.RunAsync(["restore", location, "--target", CliRunner.Url(target), "--jobs", jobs], Env);

        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Equal(await DatabaseSnapshot.TakeAsync(db.Database), await DatabaseSnapshot.TakeAsync(target));
    }

    [Fact]
    public async Task Should_Restore_Quoted_Names_While_Dumping_With_Two_Jobs()
    {
        var target = await db.Target.CreateDatabaseAsync("names_followed");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(db.Database), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--jobs", "2"], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(await DatabaseSnapshot.TakeAsync(db.Database), await DatabaseSnapshot.TakeAsync(target));
        var log = await File.ReadAllTextAsync(Directory.GetFiles(dir.Path, "restore.log", SearchOption.AllDirectories).Single());
        // The index of a table whose names need quoting is built once its rows are in (alone, or with other small
        // tables' when the dump's sizes call it small), not left to the post-data run at the end.
        var built = log.Split('\n').Where(l => l.Contains("creating INDEX \"Sales Dept.by \"item\" ü\"", StringComparison.Ordinal)).ToList();
        Assert.True(built.Count == 1 && (built[0].StartsWith("[index Sales Dept.Order Lines]", StringComparison.Ordinal) || built[0].StartsWith("[indexes and keys of ", StringComparison.Ordinal)), log);
    }

    [Fact]
    public async Task Should_Copy_Quoted_Names()
    {
        var target = await db.Target.CreateDatabaseAsync("names_copied");

        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(db.Database), "--target", CliRunner.Url(target), "--jobs", "2", "--index-jobs", "2");

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Equal(await DatabaseSnapshot.TakeAsync(db.Database), await DatabaseSnapshot.TakeAsync(target));
    }

    /// <summary>The bytes as a file, an object in the S3 store, or a signed URL to that object; no manifest beside them.</summary>
    private async Task<string> PlaceAsync(string where, byte[] bytes, TempDir dir)
    {
        if (where == "file")
        {
            await File.WriteAllBytesAsync(dir.File("archive.dump"), bytes);
            return dir.File("archive.dump");
        }

        var store = TestStores.S3(s3, _bucket);
        await store.PrepareAsync(create: true, allowPublic: false, CancellationToken.None);
        var key = TestStores.NewName("archive") + ".dump";
        await TestStores.PutAsync(store, key, bytes);
        var location = $"s3://{_bucket}/{key}";
        return where == "s3" ? location : MigrationServers.UrlFrom(await CliRunner.RunAsync(["url", location], Env));
    }
}

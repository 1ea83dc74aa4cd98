using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>copy, and migrate by default, --direct and --via an S3 store, of each corpus database into a provider-like target.</summary>
[Heavy(225)]
public sealed class CopyAndMigratePathTests(Pg15Corpus servers, S3rverServer s3) : IClassFixture<Pg15Corpus>, IClassFixture<S3rverServer>
{
    public static TheoryData<string, string> Matrix() =>
        PathMatrix.Cells([Corpus.Gis, Corpus.Billing, Corpus.Names], ["copy", "migrate", "migrate --direct", "migrate --via"]);

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Should_Move_A_Real_Database_Into_A_Provider_Target_And_Lose_Nothing(string database, string path)
    {
        var source = servers[database];
        var target = await servers.Provider.CreateDatabaseAsync(database);
        using var work = new TempDir();
        var env = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = s3.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = s3.SecretKey,
            ["AWS_ENDPOINT_URL"] = s3.Endpoint,
        };
        string[] common = ["--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database];
        string[] args = path switch
        {
            "copy" => ["copy", .. common, "--jobs", "2"],
            "migrate" => ["migrate", .. common, "--workdir", work.Path],
            "migrate --direct" => ["migrate", .. common, "--direct", "--workdir", work.Path],
            _ => ["migrate", .. common, "--via", $"s3://{TestStoresName()}/{database}.dump", "--create-bucket", "--sse", "none", "--workdir", work.Path],
        };

        var result = await CliRunner.RunAsync(args, env);

        PathMatrix.AssertSucceeded($"{path} of {database}", result);
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }

    [Fact]
    public async Task Should_Copy_Into_A_Fresh_Provider_Target_Holding_Only_Its_Extensions_Without_Confirm()
    {
        var source = servers[Corpus.Names];
        var target = await servers.Provider.CreateDatabaseAsync("fresh_copy");

        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        PathMatrix.AssertSucceeded("copy without --confirm into a target holding only the provider's extensions", copy);
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }

    [Fact]
    public async Task Should_Refuse_To_Copy_A_Table_The_Login_Role_Cannot_Read_Before_Touching_The_Target()
    {
        // The refusal is asked in a session of its own while the snapshot opens and the schema is dumped: it must
        // still be what the copy says, before the snapshot's read locks (and fails on) the table it may not read.
        var target = await servers.Provider.CreateDatabaseAsync("unreadable_copy");
        await PgServer.ExecuteAsync(target, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)");

        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(servers[Corpus.Unreadable]), "--target", CliRunner.Url(target), "--confirm", target.Database);

        await AssertRefusedUnreadableAsync(copy, 1, target);
    }

    [Fact]
    public async Task Should_Refuse_To_Migrate_A_Table_The_Login_Role_Cannot_Read_Even_When_The_Check_Is_Allowed()
    {
        // The migration refuses on what its readable tables check found (not read a second time), and --allow does not
        // lift it: the dump would stop there, and a copy would hold fewer rows than the source.
        var target = await servers.Provider.CreateDatabaseAsync("unreadable_migrate");
        await PgServer.ExecuteAsync(target, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)");
        using var work = new TempDir();

        var migrate = await CliRunner.RunAsync("migrate", "--direct", "--source", CliRunner.Url(servers[Corpus.Unreadable]), "--target", CliRunner.Url(target),
            "--confirm", target.Database, "--allow", "readable tables", "--workdir", work.Path);

        await AssertRefusedUnreadableAsync(migrate, 3, target);
    }

    /// <summary>The refusal of a source the login cannot wholly read: its exit code, the table named, and the target as it was.</summary>
    private static async Task AssertRefusedUnreadableAsync(CliResult result, int exitCode, PgRelocate.Connections.PgConnectionInfo target)
    {
        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.Contains("Not every row of the source can be read", result.Output, StringComparison.Ordinal);
        Assert.Contains(Corpus.UnreadableTable, result.Output, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", result.Output, StringComparison.Ordinal);
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM kept"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 'readable'"));
    }

    private static string TestStoresName() => Staging.TestStores.NewName("corpus");
}

using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// restore of each corpus database into a provider-like target: from a file with one and two jobs, from a
/// URL streamed (one job) and following the download (two jobs); a second restore over a complete target;
/// and check on a source with a table the login role cannot read.
/// </summary>
[Heavy(235)]
public sealed class RestorePathTests(Pg15Corpus servers) : IClassFixture<Pg15Corpus>
{
    public static TheoryData<string, string> Matrix() =>
        PathMatrix.Cells([Corpus.Gis, Corpus.Billing, Corpus.Names], ["file, 1 job", "file, 2 jobs", "url, 1 job", "url, 2 jobs"]);

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Should_Restore_A_Real_Database_Into_A_Provider_Target_And_Lose_Nothing(string database, string path)
    {
        var source = servers[database];
        var archive = await servers.Archives.GetAsync(database, source);
        archive.AssertDumped();
        var target = await servers.Provider.CreateDatabaseAsync(database);
        var from = path.StartsWith("url", StringComparison.Ordinal) ? servers.Http.Url(archive.FileName) : archive.Path;
        var jobs = path.EndsWith("1 job", StringComparison.Ordinal) ? "1" : "2";

        var restore = await CliRunner.RunAsync(["restore", from, "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", jobs], null);

        PathMatrix.AssertSucceeded($"restore ({path}) of {database}", restore);
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }

    [Theory]
    [InlineData(Corpus.Gis)]
    [InlineData(Corpus.Billing)]
    [InlineData(Corpus.Names)]
    public async Task Should_Replace_A_Complete_Target_Twice_With_Confirm_And_Keep_The_Provider_Extensions(string database)
    {
        var source = servers[database];
        var archive = await servers.Archives.GetAsync(database, source);
        archive.AssertDumped();
        var target = await servers.Provider.CreateDatabaseAsync(database + "_twice");
        string[] args = ["restore", archive.Path, "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2"];

        PathMatrix.AssertSucceeded($"the first restore of {database}", await CliRunner.RunAsync(args, null));
        var second = await CliRunner.RunAsync(args, null);
        PathMatrix.AssertSucceeded($"the second restore of {database} over the complete target", second);
        var third = await CliRunner.RunAsync(args, null);

        PathMatrix.AssertSucceeded($"the third restore of {database} over the complete target", third);
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }

    [Fact]
    public async Task Should_Take_A_Fresh_Provider_Target_Holding_Only_Its_Extensions_As_Empty()
    {
        var source = servers[Corpus.Names];
        var archive = await servers.Archives.GetAsync(Corpus.Names, source);
        archive.AssertDumped();
        var target = await servers.Provider.CreateDatabaseAsync("fresh");

        var restore = await CliRunner.RunAsync(["restore", archive.Path, "--target", CliRunner.Url(target)], null);

        PathMatrix.AssertSucceeded("restore without --confirm into a target holding only the provider's extensions", restore);
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }

    [Fact]
    public async Task Should_Block_Check_Naming_A_Table_The_Login_Role_Cannot_Read()
    {
        var target = await servers.Provider.CreateDatabaseAsync("check");

        var check = await CliRunner.RunAsync(["check", "--source", CliRunner.Url(servers[Corpus.Unreadable]), "--target", CliRunner.Url(target)], null);

        Assert.True(check.ExitCode == 3, check.ToString());
        Assert.Contains(Corpus.UnreadableTable, check.Stdout, StringComparison.Ordinal);
    }
}

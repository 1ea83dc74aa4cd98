using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

/// <summary>
/// A target whose provider's superuser installed extensions before the user got it (as on Heroku): hstore in
/// public, pg_trgm in heroku_ext, citext in a schema of its own, and the test extension with its own schema and
/// configuration table. The login role is a non-superuser owner. What the provider installed is listed, never a
/// difference; what the user moved is still compared.
/// </summary>
public class ProviderTargetTests(PgServer server) : IClassFixture<PgServer>
{
    /// <summary>The sample without hstore, plus pgcrypto: the source's own extension.</summary>
    private static readonly string SourceSql = Pairs.SampleSql.Replace("CREATE EXTENSION hstore;", "CREATE EXTENSION pgcrypto;", StringComparison.Ordinal);

    private const string ProviderSql = """
        CREATE EXTENSION hstore;
        CREATE SCHEMA heroku_ext;
        GRANT USAGE ON SCHEMA heroku_ext TO PUBLIC;
        CREATE EXTENSION pg_trgm SCHEMA heroku_ext;
        CREATE SCHEMA provider_ext;
        CREATE EXTENSION citext WITH SCHEMA provider_ext;
        CREATE EXTENSION relocate_demo;
        """;

    [Fact]
    public async Task Should_Find_No_Difference_And_List_The_Providers_Extensions_As_Notes()
    {
        var (source, target) = await CreateAsync();

        var result = await Pairs.VerifyAsync(source, target);

        Assert.False(result.HasDifferences, string.Join("; ", result.SchemaDifferences));
        Assert.Equal(
            [
                "extension citext", "extension hstore", "extension pg_trgm", "extension relocate_demo",
                "schema heroku_ext", "schema provider_ext", "schema relocate_demo",
            ],
            result.ProviderObjects.Select(o => o.Kind + " " + o.Name));
        Assert.Contains(result.ProviderObjects, o => o.Note.StartsWith("extension pg_trgm ", StringComparison.Ordinal) && o.Note.EndsWith("(target only, installed by the provider)", StringComparison.Ordinal));
        Assert.All(result.ObjectCounts, c => Assert.True(c.Equal, c.ToString()));
        Assert.DoesNotContain(result.Tables, t => t.Name.StartsWith("relocate_demo.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("DROP INDEX items_t", "index", "public.items_t", DifferenceKind.MissingOnTarget)]
    [InlineData("DROP SCHEMA sales CASCADE", "schema", "sales", DifferenceKind.MissingOnTarget)]
    [InlineData("DROP EXTENSION pgcrypto", "extension", "pgcrypto", DifferenceKind.MissingOnTarget)]
    [InlineData("CREATE SCHEMA reports", "schema", "reports", DifferenceKind.ExtraOnTarget)]
    [InlineData("GRANT CREATE ON SCHEMA heroku_ext TO PUBLIC", "table", "heroku_ext.mine", DifferenceKind.ExtraOnTarget)]
    [InlineData("GRANT CREATE ON SCHEMA heroku_ext TO PUBLIC", "schema", "heroku_ext", DifferenceKind.ExtraOnTarget)]
    public async Task Should_Still_Name_What_The_User_Moved_That_Differs(string injection, string kind, string name, DifferenceKind difference)
    {
        var (source, target) = await CreateAsync();
        if (injection.StartsWith("GRANT", StringComparison.Ordinal))
        {
            // A user table in the provider's schema: the schema is no longer the provider's alone.
            await server.ExecuteAsync(target.Database, injection);
            injection = "CREATE TABLE heroku_ext.mine (x int)";
        }

        await PgServer.ExecuteAsync(target, injection);

        var result = await Pairs.VerifyAsync(source, target);

        Assert.True(result.HasDifferences);
        Assert.Contains(result.SchemaDifferences, d => d.Kind == kind && d.Name == name && d.Difference == difference);
    }

    [Fact]
    public async Task Should_Report_An_Extension_At_Another_Version_On_The_Target()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await server.ExecuteAsync(target.Database, "DROP EXTENSION hstore; CREATE EXTENSION hstore VERSION '1.7';");

        var result = await Pairs.VerifyAsync(source, target);

        var hstore = Assert.Single(result.SchemaDifferences, d => d.Kind == "extension");
        Assert.Equal(("hstore", DifferenceKind.Different, "version 1.7"), (hstore.Name, hstore.Difference, hstore.TargetDefinition));
    }

    [Fact]
    public async Task Should_Exit_0_And_Print_The_Providers_Objects_As_Left_Alone()
    {
        var (source, target) = await CreateAsync();

        var result = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Provider's, left alone", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("(target only, installed by the provider)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Source and target match", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Exit_3_And_Name_A_Source_Extension_At_Another_Version()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await server.ExecuteAsync(target.Database, "DROP EXTENSION hstore; CREATE EXTENSION hstore VERSION '1.7';");

        var result = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("extension hstore: version 1.8 on the source, version 1.7 on the target", result.Stdout, StringComparison.Ordinal);
    }

    /// <summary>A source, and a target holding the same contents in a database the provider prepared first.</summary>
    private async Task<(PgConnectionInfo Source, PgConnectionInfo Target)> CreateAsync()
    {
        TestExtension.InstallInto(server.ServerBinDir);
        var (source, target) = await Pairs.CreateAsync(server, SourceSql);
        await server.ExecuteAsync(target.Database, ProviderSql);
        return (source, target);
    }
}

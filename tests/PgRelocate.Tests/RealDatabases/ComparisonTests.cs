using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// The comparison the matrix relies on, checked by itself: it passes on a provider target that holds the same
/// database beside the provider's extensions, and names what differs, however small.
/// </summary>
[Heavy(45)]
public sealed class ComparisonTests(Pg15Corpus servers) : IClassFixture<Pg15Corpus>
{
    [Theory]
    [InlineData(Corpus.Gis)]
    [InlineData(Corpus.Billing)]
    [InlineData(Corpus.Names)]
    public async Task Should_Ignore_Only_The_Provider_Extensions_The_Source_Does_Not_Have(string database)
    {
        var target = await servers.Provider.CreateDatabaseAsync("same_" + database);
        await Corpus.BuildIntoAsync(servers.Target, target, database);

        await DatabaseSnapshot.AssertSameAsync(servers[database], target);
    }

    [Theory]
    [InlineData("UPDATE \"Ünïcødé Schéma\".\"Tabelle ß\" SET \"desc\" = 'changed' WHERE id = 7", "table \"Ünïcødé Schéma\".\"Tabelle ß\" rows and digest 200 ")]
    [InlineData("DELETE FROM public.\"TABLE\" WHERE \"from\" = 3", "table public.\"TABLE\" rows and digest 50 ")]
    [InlineData("SELECT setval('\"Odd \"\"Schema\"\".v1\".\"Seq.Number \"\"1\"\"\"', 1000)", "sequence \"Odd \"\"Schema\"\".v1\".\"Seq.Number \"\"1\"\"\"")]
    [InlineData("DROP INDEX \"Odd \"\"Schema\"\".v1\".\"Index.With.Dots \"\"and quotes\"\"\"", "CREATE UNIQUE INDEX \"Index.With.Dots \"\"and quotes\"\"\"")]
    [InlineData("ALTER TABLE public.\"TABLE\" ALTER COLUMN \"group\" SET DEFAULT 'x'", "column public.\"TABLE\".\"group\" text")]
    [InlineData("CREATE EXTENSION citext", "+ extension citext")]
    [InlineData("SELECT lo_from_bytea(0, 'extra')", "+ large object ")]
    [InlineData("COMMENT ON TABLE public.\"TABLE\" IS 'only pg_dump shows this'", "COMMENT ON TABLE public.\"TABLE\" IS 'only pg_dump shows this'")]
    public async Task Should_Name_What_Differs(string change, string expected)
    {
        var target = await servers.Provider.CreateDatabaseAsync("changed_names");
        await PgServer.ExecuteAsync(target, Corpus.Sql(Corpus.Names));
        await PgServer.ExecuteAsync(target, change);

        var failure = await Record.ExceptionAsync(() => DatabaseSnapshot.AssertSameAsync(servers[Corpus.Names], target));

        Assert.NotNull(failure);
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }
}

using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// The corpus's <c>gis</c> database grown past the number of tables from which <c>restore --jobs N</c> of a whole
/// file runs on lanes instead of pg_restore's parallel mode (ScheduledRestore.WholeFileTables, 2,000): PostGIS with
/// a user SRID, hstore, pg_trgm in heroku_ext, the test extension's configuration table with a user row, beside
/// 2,000 tables of <see cref="WaveSchema"/> and its partitions. Built once for the class.
/// </summary>
public sealed class Pg15LaneCorpus : CorpusServers<PgServer, PgServer>
{
    /// <summary>The key of the grown source database.</summary>
    public const string Name = Corpus.Gis;

    protected override string[] DatabaseNames => [Name];

    protected override async Task SourceBuiltAsync(PgConnectionInfo database)
    {
        foreach (var sql in WaveSchema.Statements(tables: 2000))
        {
            await PgServer.ExecuteAsync(database, sql);
        }

        Assert.True(await PgServer.ScalarAsync<long>(database, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')") > 2000);
    }
}

/// <summary>
/// <c>restore --jobs 2</c> of a whole file of more than 2,000 tables, from a file and from a URL, into a provider-like
/// target: its rows go on lanes that read the archive (not pg_restore's parallel mode), the rows of the provider's
/// extension tables stay the provider's, and both sides are compared outside our code (exact counts, digests,
/// pg_dump --schema-only), verified, and the provider's extensions are still in place.
/// </summary>
[Heavy(40)]
[Trait(Tier.Name, Tier.Long)]
public sealed class LanePathTests(Pg15LaneCorpus servers) : IClassFixture<Pg15LaneCorpus>
{
    [Theory]
    [InlineData("file")]
    [InlineData("url")]
    public async Task Should_Restore_Thousands_Of_Tables_On_Lanes_Into_A_Provider_Target_And_Lose_Nothing(string from)
    {
        var source = servers[Pg15LaneCorpus.Name];
        var target = await servers.Provider.CreateDatabaseAsync("lanes");
        using var work = new TempDir();
        var log = work.File("restore.log");
        var archive = await servers.Archives.GetAsync(Pg15LaneCorpus.Name, source);
        archive.AssertDumped();

        var result = await CliRunner.RunAsync(
            ["restore", from == "url" ? servers.Http.Url(archive.FileName) : archive.Path, "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2", "--log", log], null);

        PathMatrix.AssertSucceeded($"restore from a {from}, 2 jobs, on lanes", result);
        var runs = (await File.ReadAllLinesAsync(log)).Where(l => l.StartsWith("# [", StringComparison.Ordinal) && l.Contains("/pg_restore ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, runs.Count(l => l.StartsWith("# [lane ", StringComparison.Ordinal)));
        Assert.Contains(runs, l => l.StartsWith("# [indexes and keys of ", StringComparison.Ordinal));
        Assert.DoesNotContain(runs, l => l.Contains("--jobs=2", StringComparison.Ordinal) && !l.StartsWith("# [post-data]", StringComparison.Ordinal) && !l.StartsWith("# [pre-data", StringComparison.Ordinal));
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }
}

using System.Text.RegularExpressions;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// The corpus's <c>gis</c> and <c>billing</c> databases grown past the size at which the pre-data section is
/// restored in waves of pg_restore runs side by side (see <see cref="WaveSchema"/>), so the waves meet what real
/// databases hold: PostGIS with a user SRID and pg_trgm in heroku_ext, an extension's configuration table with a
/// user row, names that need quoting, partitions, aggregates. The corpus's own archives stay below that size.
/// </summary>
public sealed class Pg15WaveCorpus : CorpusServers<PgServer, PgServer>
{
    protected override string[] DatabaseNames => [Corpus.Gis, Corpus.Billing];

    protected override async Task SourceBuiltAsync(PgConnectionInfo database)
    {
        foreach (var sql in WaveSchema.Statements())
        {
            await PgServer.ExecuteAsync(database, sql);
        }
    }
}

/// <summary>
/// Each path that restores a pre-data section in waves (restore from a file and from a URL with two jobs, copy,
/// migrate restoring while it dumps, migrate --direct), into a provider-like target: the log shows a wave of two
/// runs, and both sides are compared outside our code (exact counts, digests, pg_dump --schema-only), verified,
/// and the provider's extensions are still in place.
/// </summary>
public sealed partial class WavePathTests(Pg15WaveCorpus servers) : IClassFixture<Pg15WaveCorpus>
{
    public static TheoryData<string, string> Matrix() => new()
    {
        { Corpus.Gis, "restore, file, 2 jobs" },
        { Corpus.Billing, "restore, file, 2 jobs" },
        { Corpus.Billing, "restore, url, 2 jobs" },
        { Corpus.Gis, "copy" },
        { Corpus.Billing, "copy" },
        { Corpus.Gis, "migrate" },
        { Corpus.Billing, "migrate --direct" },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Should_Restore_A_Wave_Sized_Real_Database_Into_A_Provider_Target_And_Lose_Nothing(string database, string path)
    {
        var source = servers[database];
        var target = await servers.Provider.CreateDatabaseAsync(database + "_waves");
        using var work = new TempDir();
        var log = work.File("run.log");
        string[] into = ["--target", CliRunner.Url(target), "--confirm", target.Database];
        string[] args;
        if (path.StartsWith("restore", StringComparison.Ordinal))
        {
            var archive = await servers.Archives.GetAsync(database, source);
            archive.AssertDumped();
            var from = path.Contains("url", StringComparison.Ordinal) ? servers.Http.Url(archive.FileName) : archive.Path;
            args = ["restore", from, .. into, "--jobs", "2", "--log", log];
        }
        else
        {
            args = path switch
            {
                "copy" => ["copy", "--source", CliRunner.Url(source), .. into, "--jobs", "2", "--log", log],
                "migrate" => ["migrate", "--source", CliRunner.Url(source), .. into, "--jobs", "2", "--workdir", work.Path],
                _ => ["migrate", "--direct", "--source", CliRunner.Url(source), .. into, "--jobs", "2", "--workdir", work.Path],
            };
        }

        var result = await CliRunner.RunAsync(args, null);

        PathMatrix.AssertSucceeded($"{path} of {database} (wave-sized)", result);
        var logs = Directory.EnumerateFiles(work.Path, "*.log", SearchOption.AllDirectories).Select(File.ReadAllText).ToList();
        Assert.True(logs.Any(l => TwoRunsSideBySide().IsMatch(l)), $"{path} of {database}: no wave of two pg_restore runs in its log.");
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }

    [GeneratedRegex(@"# \[pre-data \d+\.2\] ")]
    private static partial Regex TwoRunsSideBySide();
}

/// <summary>
/// About 900 pre-data entries added to a corpus database by its login role, in batches (the default lock table
/// cannot hold them in one transaction): 600 tables in three schemas whose names need quoting, each with a column of
/// the database's extension type where it has one (PostGIS's geometry, hstore) and a trigram index from heroku_ext on
/// every fiftieth where pg_trgm is installed; a view with a comment and a function over every tenth; ten
/// partitioned tables of ten partitions each. Two rows a table.
/// </summary>
public static class WaveSchema
{
    public static IEnumerable<string> Statements()
    {
        yield return """"CREATE SCHEMA "Wave ""One"""; CREATE SCHEMA "wave.two"; CREATE SCHEMA "Ünïcødé Wave";"""";
        for (var from = 1; from <= 600; from += 100)
        {
            yield return $$""""
                DO $$
                DECLARE
                    schemas text[] := ARRAY['"Wave ""One"""', '"wave.two"', '"Ünïcødé Wave"'];
                    geometry boolean := to_regtype('geometry') IS NOT NULL;
                    hstore boolean := to_regtype('hstore') IS NOT NULL;
                    extra text := CASE WHEN geometry THEN ', g geometry(Point, 4326)' WHEN hstore THEN ', h hstore' ELSE '' END;
                    one text := CASE WHEN geometry THEN ', ST_SetSRID(ST_MakePoint(1.5, 2.5), 4326)' WHEN hstore THEN ', ''k=>"v 1"''::hstore' ELSE '' END;
                    two text := CASE WHEN extra <> '' THEN ', NULL' ELSE '' END;
                    trgm boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm');
                    s text;
                    t text;
                BEGIN
                    FOR i IN {{from}}..{{from + 99}} LOOP
                        s := schemas[1 + i % 3];
                        t := format('%s.%I', s, 'T ' || i);
                        EXECUTE format('CREATE TABLE %s (id int PRIMARY KEY, v text%s)', t, extra);
                        EXECUTE format('INSERT INTO %s VALUES (1, %L%s), (2, NULL%s)', t, 'row ' || i || ' é', one, two);
                        IF trgm AND i % 50 = 0 THEN
                            EXECUTE format('CREATE INDEX ON %s USING gin (v heroku_ext.gin_trgm_ops)', t);
                        END IF;
                        IF i % 10 = 0 THEN
                            EXECUTE format('CREATE VIEW %s.%I AS SELECT id, v FROM %s', s, 'V ' || i, t);
                            EXECUTE format('COMMENT ON VIEW %s.%I IS %L', s, 'V ' || i, 'view ' || i);
                            EXECUTE format('CREATE FUNCTION %s.%I(x int) RETURNS bigint LANGUAGE sql STABLE AS %L', s, 'f' || i, format('SELECT count(*) FROM %s WHERE id <= x', t));
                        END IF;
                    END LOOP;
                END $$;
                """";
        }

        yield return """
            DO $$
            BEGIN
                FOR p IN 1..10 LOOP
                    EXECUTE format('CREATE TABLE "wave.two".%I (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)', 'Parted ' || p);
                    FOR m IN 1..10 LOOP
                        EXECUTE format('CREATE TABLE "wave.two".%I PARTITION OF "wave.two".%I FOR VALUES FROM (%L) TO (%L)',
                            'Parted ' || p || '.' || m, 'Parted ' || p, make_date(2024, m, 1), make_date(2024, m + 1, 1));
                    END LOOP;
                    EXECUTE format('INSERT INTO "wave.two".%I SELECT g, date ''2024-01-01'' + g FROM generate_series(0, 280, 7) g', 'Parted ' || p);
                END LOOP;
            END $$;
            """;
    }
}

using System.Text.RegularExpressions;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// One source database holding the corpus's <c>gis</c>, <c>billing</c> and <c>names</c> together, grown past the
/// size at which the pre-data section is restored in waves of pg_restore runs side by side (see
/// <see cref="WaveSchema"/>), so that every path meets, in its waves, all that real databases hold: PostGIS with a
/// user SRID, hstore, pg_trgm in heroku_ext, the test extension's type and a user row in its configuration table,
/// names that need quoting, enums and composite types, partitions, aggregates, large objects. The corpus's own
/// archives stay below that size. Built once for the class.
/// </summary>
public sealed class Pg15WaveCorpus : CorpusServers<PgServer, PgServer>
{
    /// <summary>The key of the combined source database.</summary>
    public const string Name = Corpus.Gis;

    protected override string[] DatabaseNames => [Name];

    protected override async Task SourceBuiltAsync(PgConnectionInfo database)
    {
        await Corpus.BuildIntoAsync(Source, database, Corpus.Billing);
        await Corpus.BuildIntoAsync(Source, database, Corpus.Names);
        foreach (var sql in WaveSchema.Statements())
        {
            await PgServer.ExecuteAsync(database, sql);
        }

        // What the waves are to meet, so that a corpus change cannot quietly leave it out.
        var types = await PgServer.ScalarAsync<string[]>(database, """
            SELECT array_agg(DISTINCT t.typname::text ORDER BY t.typname::text)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
            WHERE n.nspname IN ('Wave "One"', 'wave.two', 'Ünïcødé Wave') AND t.typname IN ('geometry', 'hstore', 'amount', 'Mood Type')
            """);
        Assert.Equal(["Mood Type", "amount", "geometry", "hstore"], types ?? []);
        Assert.Equal(12L, await PgServer.ScalarAsync<long>(database, "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%heroku_ext.gin_trgm_ops%' AND schemaname <> 'public'"));
    }
}

/// <summary>
/// Each path that restores a pre-data section in waves (restore from a file and from a URL with two jobs, copy, copy
/// from a source to a target both a millisecond away each way (every session at work at once, see CopyStart.Lanes),
/// migrate restoring while it dumps, migrate --direct), of the one wave-sized source into a provider-like target:
/// the log shows a wave of two runs, and both sides are compared outside our code (exact counts, digests,
/// pg_dump --schema-only), verified, and the provider's extensions are still in place.
/// </summary>
[Heavy(210)]
[Trait(Tier.Name, Tier.Long)]
public sealed class WavePathTests(Pg15WaveCorpus servers) : IClassFixture<Pg15WaveCorpus>
{
    public static TheoryData<string> Paths() =>
        ["restore, file, 2 jobs", "restore, url, 2 jobs", "copy", "copy, far", "migrate", "migrate --direct"];

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Should_Restore_A_Wave_Sized_Real_Database_Into_A_Provider_Target_And_Lose_Nothing(string path)
    {
        var source = servers[Pg15WaveCorpus.Name];
        var target = await servers.Provider.CreateDatabaseAsync("waves");
        using var work = new TempDir();
        var log = work.File("run.log");
        string[] into = ["--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2"];
        string[] args;
        if (path.StartsWith("restore", StringComparison.Ordinal))
        {
            var archive = await servers.Archives.GetAsync(Pg15WaveCorpus.Name, source);
            archive.AssertDumped();
            var from = path.Contains("url", StringComparison.Ordinal) ? servers.Http.Url(archive.FileName) : archive.Path;
            args = ["restore", from, .. into, "--log", log];
        }
        else
        {
            string[] from = ["--source", CliRunner.Url(source)];
            args = path switch
            {
                "copy" => ["copy", .. from, .. into, "--log", log],
                "migrate" => ["migrate", .. from, .. into, "--workdir", work.Path],
                _ => ["migrate", "--direct", .. from, .. into, "--workdir", work.Path],
            };
        }

        // Far: both servers 1 ms away each way. Every session the copy opens then works at once: four pre-data runs
        // side by side with two jobs and two index builders.
        await using var farSource = new DelayingProxy(source.Port, TimeSpan.FromMilliseconds(1));
        await using var farTarget = new DelayingProxy(target.Port, TimeSpan.FromMilliseconds(1));
        if (path == "copy, far")
        {
            args = ["copy", "--source", farSource.UrlOf(source), "--target", farTarget.UrlOf(target), "--confirm", target.Database, "--jobs", "2", "--log", log];
        }

        var result = await CliRunner.RunAsync(args, null);

        PathMatrix.AssertSucceeded($"{path} (wave-sized)", result);
        var logs = Directory.EnumerateFiles(work.Path, "*.log", SearchOption.AllDirectories).Select(File.ReadAllText).ToList();
        var runs = path == "copy, far" ? 4 : 2;
        Assert.True(
            logs.Any(l => Regex.IsMatch(l, $@"# \[pre-data \d+\.{runs}\] ")),
            $"{path}: no wave of {runs} pg_restore runs in its log: {string.Join("; ", logs.SelectMany(l => Regex.Matches(l, @"# \[pre-data [\d.]+\]|# pre-data in .*").Select(m => m.Value)).Distinct())}\n{result}");
        if (path == "copy, far")
        {
            Assert.Matches(@"with 2 COPY streams and 2 index builders, all at once: a round trip takes \d+\.\d ms", result.Stdout + result.Stderr);
        }

        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }
}

/// <summary>
/// About 900 pre-data entries added to a corpus database by its login role, in batches (the default lock table
/// cannot hold them in one transaction): 600 tables (or <c>tables</c>) in three schemas whose names need quoting, each with a column
/// of every extension type the database has (PostGIS's geometry, hstore), every tenth also with columns of the test
/// extension's type and of the <c>names</c> database's enum where those exist, and a trigram index from heroku_ext
/// on every fiftieth where pg_trgm is installed; a view with a comment and a function over every tenth; ten
/// partitioned tables of ten partitions each; an aggregate and a view using it. Two rows a table.
/// </summary>
public static class WaveSchema
{
    public static IEnumerable<string> Statements(int tables = 600)
    {
        yield return """"CREATE SCHEMA "Wave ""One"""; CREATE SCHEMA "wave.two"; CREATE SCHEMA "Ünïcødé Wave";"""";
        for (var from = 1; from <= tables; from += 100)
        {
            yield return $$""""
                DO $$
                DECLARE
                    schemas text[] := ARRAY['"Wave ""One"""', '"wave.two"', '"Ünïcødé Wave"'];
                    mood regtype := to_regtype('"Odd ""Schema"".v1"."Mood Type"');
                    amount regtype := to_regtype('relocate_demo.amount');
                    trgm boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm');
                    columns text := '';
                    one text := '';
                    two text := '';
                    s text;
                    t text;
                BEGIN
                    IF to_regtype('geometry') IS NOT NULL THEN
                        columns := columns || ', g geometry(Point, 4326)';
                        one := one || ', ST_SetSRID(ST_MakePoint(1.5, 2.5), 4326)';
                        two := two || ', NULL';
                    END IF;
                    IF to_regtype('hstore') IS NOT NULL THEN
                        columns := columns || ', h hstore';
                        one := one || ', ''k=>"v 1", "ü k"=>NULL''::hstore';
                        two := two || ', NULL';
                    END IF;
                    FOR i IN {{from}}..{{from + 99}} LOOP
                        s := schemas[1 + i % 3];
                        t := format('%s.%I', s, 'T ' || i);
                        IF i % 10 = 0 AND mood IS NOT NULL AND amount IS NOT NULL THEN
                            EXECUTE format('CREATE TABLE %s (id int PRIMARY KEY, v text%s, m %s, a %s)', t, columns, mood, amount);
                            EXECUTE format('INSERT INTO %s VALUES (1, %L%s, %L, relocate_demo.amount_of(%s, ''EUR'')), (2, NULL%s, NULL, NULL)',
                                t, 'row ' || i || ' é', one, 'ÿes "quoted"', i * 1.25, two);
                        ELSE
                            EXECUTE format('CREATE TABLE %s (id int PRIMARY KEY, v text%s)', t, columns);
                            EXECUTE format('INSERT INTO %s VALUES (1, %L%s), (2, NULL%s)', t, 'row ' || i || ' é', one, two);
                        END IF;
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

        yield return """"
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
            CREATE FUNCTION "Wave ""One"""."Add Days"(state bigint, at date) RETURNS bigint
                LANGUAGE sql IMMUTABLE AS $$ SELECT state + extract(doy FROM at)::bigint $$;
            CREATE AGGREGATE "Wave ""One"""."Sum Of Days"(date) (SFUNC = "Wave ""One"""."Add Days", STYPE = bigint, INITCOND = '0');
            COMMENT ON AGGREGATE "Wave ""One"""."Sum Of Days"(date) IS 'days of the year, summed';
            CREATE VIEW "Ünïcødé Wave"."Days By Month" AS
            SELECT date_trunc('month', at)::date AS month, "Wave ""One"""."Sum Of Days"(at) AS days FROM "wave.two"."Parted 1" GROUP BY 1;
            """";
    }
}

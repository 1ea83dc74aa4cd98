using System.Diagnostics;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Demo;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Copy;

/// <summary>copy between two real clusters: equal contents, a consistent snapshot under writes, and interruption.</summary>
[Heavy(135)]
public class CopyTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Should_Copy_The_Sample_Database_Exactly()
    {
        var source = await servers.Source.CreateDatabaseAsync("sample");
        await SampleDatabase.LoadAsync(servers.Source.Cluster, source, CancellationToken.None);
        var target = await servers.Target.CreateDatabaseAsync("sample_copy");

        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--jobs", "2", "--index-jobs", "2");

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Contains("Completed", copy.Stdout, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Equal(0, await DatabaseSnapshot.SampleObjectsNotOwnedByLoginAsync(target));
    }

    [Fact]
    public async Task Should_Copy_Every_Column_Type_Partitions_Inheritance_Generated_Identity_And_Large_Objects()
    {
        var source = await servers.Source.CreateDatabaseAsync("types");
        await PgServer.ExecuteAsync(source, TypesSql);
        var target = await servers.Target.CreateDatabaseAsync("types_copy");

        // A split size of 1 MB makes the 'wide' table travel as several page ranges at once.
        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "-j", "3", "--split-tables-larger-than", "1", "--json");

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Contains("pages", copy.Stdout, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
        // Generated columns were computed by the target, identity sequences continue where the source's stopped.
        Assert.Equal(84L, await PgServer.ScalarAsync<long>(target, "SELECT doubled FROM gen WHERE id = 42"));
        await PgServer.ExecuteAsync(target, "INSERT INTO gen (id) VALUES (1000)");
        Assert.Equal(await PgServer.ScalarAsync<long>(source, "SELECT max(ident) FROM gen") + 1, await PgServer.ScalarAsync<long>(target, "SELECT ident FROM gen WHERE id = 1000"));
        Assert.Equal(3, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM parent_inh"));
        Assert.Equal("u", await PgServer.ScalarAsync<string>(target, "SELECT relpersistence::text FROM pg_class WHERE relname = 'scratch'"));
        Assert.Equal("commented: kept with its large object", await PgServer.ScalarAsync<string>(target, LargeObjectCommentsSql));
    }

    [Fact]
    public async Task Should_Copy_Many_Small_Tables_In_Batches_With_Their_Keys_Indexes_Foreign_Keys_And_Statistics()
    {
        var source = await servers.Source.CreateDatabaseAsync("small_tables");
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE kinds (id int PRIMARY KEY, name text UNIQUE);
            INSERT INTO kinds VALUES (1, 'a'), (2, 'b'), (3, 'c');
            DO $$ BEGIN
                FOR i IN 1..120 LOOP
                    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, kind int REFERENCES kinds, note text NOT NULL)', i);
                    EXECUTE format('CREATE INDEX ON t%s (note)', i);
                    EXECUTE format('INSERT INTO t%s VALUES (1, 1, ''x%s''), (2, 2, ''y''), (3, 3, ''z'')', i, i);
                END LOOP;
            END $$;
            CREATE TABLE parts (id int, k int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
            CREATE TABLE parts_1 PARTITION OF parts FOR VALUES IN (1);
            CREATE TABLE parts_2 PARTITION OF parts FOR VALUES IN (2);
            INSERT INTO parts VALUES (1, 1), (2, 1), (3, 2);
            -- Index entries of pg_dump that hold more than one statement: a clustered index, an expression index's
            -- statistics target, a replica identity index.
            ALTER TABLE t5 CLUSTER ON t5_note_idx;
            CREATE INDEX t6_lower ON t6 (lower(note));
            ALTER INDEX t6_lower ALTER COLUMN 1 SET STATISTICS 500;
            CREATE UNIQUE INDEX t8_note_unique ON t8 (note);
            ALTER TABLE t8 REPLICA IDENTITY USING INDEX t8_note_unique;
            """);
        var target = await servers.Target.CreateDatabaseAsync("small_tables_copy");

        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "-j", "2", "--json");

        Assert.True(copy.ExitCode == 0, copy.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        // Every small table's indexes, constraints and ANALYZE went in one step (one round trip); ANALYZE set its row count.
        using var result = System.Text.Json.JsonDocument.Parse(copy.Stdout);
        var steps = result.RootElement.GetProperty("steps").EnumerateArray().Select(s => (Step: s.GetProperty("step").GetString(), Object: s.GetProperty("object").GetString()!)).ToList();
        Assert.Equal(123, steps.Count(s => s.Step == "indexes"));
        var t7 = Assert.Single(steps, s => s.Step == "indexes" && s.Object.StartsWith("public.t7: ", StringComparison.Ordinal)).Object;
        Assert.Matches("^public.t7: index .*t7_(pkey|note_idx), index .*t7_(pkey|note_idx), constraint .*t7_pkey, analyze$", t7);
        Assert.DoesNotContain(steps, s => s.Step is "index" or "constraint" or "analyze");
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname ~ '^(t[0-9]+|kinds)$' AND reltuples <> 3"));
        Assert.Equal(3L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t120 JOIN kinds ON kinds.id = t120.kind"));
        Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT indisclustered FROM pg_index WHERE indexrelid = 't5_note_idx'::regclass"));
        Assert.Equal(500, await PgServer.ScalarAsync<int>(target, "SELECT attstattarget::int FROM pg_attribute WHERE attrelid = 't6_lower'::regclass AND attnum = 1"));
        Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT indisreplident FROM pg_index WHERE indexrelid = 't8_note_unique'::regclass"));
    }

    /// <summary>
    /// A batch of small tables is read one table ahead into memory: a table small on disk can hold far more once
    /// its compressed values are read out (here 300 kB from a few kilobytes), and a table in text format
    /// (an array of the database's own enum) sends its batch through the pump. Every row arrives, none twice.
    /// </summary>
    [Fact]
    public async Task Should_Copy_Batches_Of_Small_Tables_Whose_Values_Outgrow_Their_Pages_And_Those_In_Text_Format()
    {
        var source = await servers.Source.CreateDatabaseAsync("read_ahead");
        await PgServer.ExecuteAsync(source, """
            CREATE TYPE mood AS ENUM ('sad', 'ok');
            DO $$ BEGIN
                FOR i IN 1..40 LOOP
                    EXECUTE format('CREATE TABLE r%s (id int PRIMARY KEY, v text)', i);
                    EXECUTE format('INSERT INTO r%s SELECT g, CASE WHEN g = 1 THEN repeat(%L, %s) ELSE %L END FROM generate_series(1, %s) g',
                        i, 'abc', 1 + (i % 4) * 33333, 'row ' || i, 1 + i % 5);
                END LOOP;
            END $$;
            CREATE TABLE moods (id int PRIMARY KEY, m mood[]);
            INSERT INTO moods VALUES (1, '{sad,ok}'), (2, NULL);
            """);
        Assert.True(await PgServer.ScalarAsync<bool>(source, "SELECT pg_total_relation_size('r3') < 64 * 1024 AND (SELECT sum(length(v)) FROM r3) > 290000"));
        var target = await servers.Target.CreateDatabaseAsync("read_ahead_copy");

        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "-j", "2");

        Assert.True(copy.ExitCode == 0, copy.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Equal(
            await PgServer.ScalarAsync<long>(source, "SELECT sum(length(v)) FROM r3"),
            await PgServer.ScalarAsync<long>(target, "SELECT sum(length(v)) FROM r3"));
    }

    /// <summary>
    /// Progress names a table only once it has passed its first megabyte: thousands of small tables each took a
    /// line (a live bar on a terminal) of their own, burying the tables worth watching. They are counted in "data".
    /// </summary>
    [Fact]
    public async Task Should_Show_The_Progress_Of_Large_Tables_And_Count_The_Small_Ones()
    {
        var source = await servers.Source.CreateDatabaseAsync("progress");
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE big (id int PRIMARY KEY, note text NOT NULL);
            INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 30000) g;
            DO $$ BEGIN
                FOR i IN 1..30 LOOP
                    EXECUTE format('CREATE TABLE small%s (id int PRIMARY KEY)', i);
                    EXECUTE format('INSERT INTO small%s VALUES (1), (2), (3)', i);
                END LOOP;
            END $$;
            """);
        var target = await servers.Target.CreateDatabaseAsync("progress_copy");

        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--jobs", "2");

        Assert.True(copy.ExitCode == 0, copy.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Matches(@"copy public\.big: 30000/30000 rows, .* \(done\)", copy.Stderr);
        Assert.DoesNotContain("copy public.small", copy.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"data: 31/31 tables, .* \(done\)", copy.Stderr);
    }

    [Fact]
    public async Task Should_Name_The_Small_Table_Whose_Index_Fails_Among_Those_Sent_In_One_Round_Trip()
    {
        // Thirty small tables, whose indexes go several tables to a round trip; t17's index calls a function that
        // fails in the copy's sessions only (the source's index was built by this test's session). t17, with one
        // index fewer than the others, is the smallest, so it is not the first table of its round trip.
        var source = await servers.Source.CreateDatabaseAsync("small_index_fails");
        await PgServer.ExecuteAsync(source, """
            CREATE FUNCTION picky(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
            BEGIN
                IF current_setting('application_name') = 'pgrelocate copy' THEN RAISE EXCEPTION 'picky refuses %', i; END IF;
                RETURN i;
            END $$;
            DO $$ BEGIN
                FOR i IN 1..30 LOOP
                    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, note text)', i);
                    EXECUTE format('INSERT INTO t%s VALUES (1, ''a''), (2, ''b'')', i);
                    IF i <> 17 THEN
                        EXECUTE format('CREATE INDEX ON t%s (note)', i);
                        EXECUTE format('CREATE INDEX ON t%s (note, id)', i);
                    END IF;
                END LOOP;
            END $$;
            CREATE INDEX t17_picky ON t17 (picky(id));
            """);
        var target = await servers.Target.CreateDatabaseAsync("small_index_fails_copy");

        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "-j", "2");

        Assert.True(copy.ExitCode == 1, copy.ToString());
        Assert.True(copy.Stderr.Contains("Building the indexes and constraints of public.t17 failed: picky refuses", StringComparison.Ordinal), copy.ToString());
        Assert.True(copy.Stderr.Contains("CREATE INDEX t17_picky", StringComparison.Ordinal), copy.ToString());
    }

    /// <summary>Every large object's comment with the large object's contents, so a comment on the wrong object shows.</summary>
    internal const string LargeObjectCommentsSql = """
        SELECT string_agg(convert_from(lo_get(d.objoid), 'UTF8') || ': ' || d.description, ', ') FROM pg_description d
        WHERE d.classoid = 'pg_largeobject'::regclass
        """;

    [Fact]
    public async Task Should_Copy_One_Moment_Of_A_Source_Being_Written_To()
    {
        var source = await servers.Source.CreateDatabaseAsync("busy");
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE orders (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE TABLE lines (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders (id), n int NOT NULL);
            INSERT INTO orders SELECT g FROM generate_series(1, 50000) g;
            INSERT INTO lines (order_id, n) SELECT o, l FROM generate_series(1, 50000) o, generate_series(1, 3) l;
            SELECT setval('orders_id_seq', 50000);
            """);
        var target = await servers.Target.CreateDatabaseAsync("busy_copy");
        var before = await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM orders");
        using var stop = new CancellationTokenSource();
        long written = 0;
        var writer = Task.Run(async () =>
        {
            // Each transaction adds one order and its three lines: any one moment has three lines per order.
            await using var conn = new NpgsqlConnection(source.ToNpgsqlConnectionString());
            await conn.OpenAsync();
            while (!stop.IsCancellationRequested)
            {
                await Db.ExecuteAsync(conn, "WITH o AS (INSERT INTO orders DEFAULT VALUES RETURNING id) INSERT INTO lines (order_id, n) SELECT o.id, l FROM o, generate_series(1, 3) l", CancellationToken.None);
                Interlocked.Increment(ref written);
            }
        });

        await Eventually.True(() => Interlocked.Read(ref written) > 0 || writer.IsCompleted, TimeSpan.FromMinutes(1), "the application never wrote");
        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target));
        await stop.CancelAsync();
        await writer;

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.True(written > 0);
        var orders = await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM orders");
        var lines = await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM lines");
        Assert.Equal(3 * orders, lines);
        Assert.InRange(orders, before, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM orders"));
        Assert.Equal(0, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM lines l WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = l.order_id)"));
        Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT convalidated FROM pg_constraint WHERE conname = 'lines_order_id_fkey'"));
        Assert.True(await PgServer.ScalarAsync<long>(target, "SELECT last_value FROM orders_id_seq") >= await PgServer.ScalarAsync<long>(target, "SELECT max(id) FROM orders"));
    }

    [Fact]
    public async Task Should_Leave_An_Interrupted_Copy_For_Confirm_To_Clean_And_Complete_On_The_Second_Run()
    {
        var source = await servers.Source.CreateDatabaseAsync("paced");
        // The check makes each row take a few milliseconds on the target while the database setting is on:
        // the copy is reliably still running when it is interrupted, and fast again for the second run.
        await PgServer.ExecuteAsync(source, """
            CREATE FUNCTION pace(i int) RETURNS boolean LANGUAGE sql IMMUTABLE
              AS $$ SELECT CASE WHEN current_setting('pgrelocate_test.slow', true) = 'on' THEN (SELECT true FROM pg_sleep(0.005)) ELSE true END $$;
            CREATE TABLE paced (id int PRIMARY KEY, note text, CHECK (pace(id)));
            INSERT INTO paced SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
            CREATE TABLE other (id int PRIMARY KEY);
            INSERT INTO other SELECT generate_series(1, 1000);
            """);
        var target = await servers.Target.CreateDatabaseAsync("paced_copy");
        await servers.Target.ExecuteAsync("postgres", $"ALTER DATABASE {Db.Ident(target.Database)} SET pgrelocate_test.slow = 'on'");

        Task? interrupting = null;
        var interrupted = await CliRunner.RunAsync(
            ["copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target)], null, TimeSpan.FromMinutes(2),
            onStarted: p => interrupting = InterruptWhenCopyingAsync(p, target.Database));

        // The interrupt's own failure first (a CLI that ignores SIGINT runs to its end).
        await interrupting!;
        Assert.True(interrupted.ExitCode == 130, interrupted.ToString());
        Assert.True(await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM paced") < 5000);

        await servers.Target.ExecuteAsync("postgres", $"ALTER DATABASE {Db.Ident(target.Database)} RESET pgrelocate_test.slow");
        var refused = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target));
        var again = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database);

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"--confirm {target.Database}", refused.Stderr, StringComparison.Ordinal);
        Assert.True(again.ExitCode == 0, again.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Refuse_To_Copy_A_Database_Onto_Itself()
    {
        var source = await servers.Source.CreateDatabaseAsync("self");
        await PgServer.ExecuteAsync(source, "CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1)");

        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(source), "-t", CliRunner.Url(source), "--confirm", source.Database);

        Assert.Equal(2, copy.ExitCode);
        Assert.Contains("same database", copy.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM keep_me"));
    }

    /// <summary>Sends Ctrl-C (SIGINT) to the CLI once the target shows the paced table's COPY running.</summary>
    private async Task InterruptWhenCopyingAsync(Process cli, string database)
    {
        var copying = false;
        await Eventually.Holds(
            async () => cli.HasExited
                || (copying = await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(database), $"SELECT count(*) FROM pg_stat_activity WHERE datname = {Db.Literal(database)} AND query LIKE 'COPY %paced%FROM STDIN%' AND state = 'active'") > 0),
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(50));
        if (copying)
        {
            await Signals.SendAsync(cli.Id, "INT");
        }
    }

    internal const string TypesSql = """
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN positive AS int CHECK (VALUE > 0);
        CREATE TYPE pair AS (a int, b mood);
        CREATE TABLE every_type (
            id serial PRIMARY KEY, t text, n numeric, f8 float8, f4 real, j jsonb, js json, b bytea, ts timestamptz, tsn timestamp,
            d date, iv interval, ia int[], ta text[], u uuid, bo boolean, ip inet, m mood, ma mood[], p pair, pos positive, c char(3), r int4range
        );
        INSERT INTO every_type (t, n, f8, f4, j, js, b, ts, tsn, d, iv, ia, ta, u, bo, ip, m, ma, p, pos, c, r) VALUES
          ('plain', 1.5, 1.5, 1.5, '{"a": [1, 2, {"b": null}]}', '{"x":  1}', '\x00ff10', '2024-02-29 12:34:56.789+01', '2024-02-29 12:34:56', '2024-02-29', '1 year 2 mons 3 days 04:05:06.7', '{1,2,3}', '{a,NULL,"b c"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, '10.0.0.1/8', 'happy', '{sad,happy}', ROW(1, 'ok'), 7, 'ab', '[1,10)'),
          ('quote '' and \ backslash and ünïcødé and tab	and newline
        end', 'NaN', 'NaN', '-Infinity', '[]', '[]', '', 'infinity', '-infinity', 'epoch', '-1 day', '{}', '{}', NULL, false, '::1', 'sad', '{}', ROW(NULL, NULL), 1, 'x', 'empty'),
          (NULL, 123456789012345678901234567890.123456789, '-Infinity', 'Infinity', 'null', 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          ('floats', -0.0, 1e-300, 3.4028235e38, '{"k": 1.000000000000000001}', '1.50', '\x', '1999-12-31 23:59:59.999999+00', '0001-01-01 00:00:00', '0001-01-01', '00:00:00.000001', '{{1,2},{3,4}}', '{"{}"}', '00000000-0000-0000-0000-000000000000', NULL, '0.0.0.0', 'ok', '{ok,NULL}', ROW(2, 'happy'), 2147483647, '', '(,)');
        CREATE INDEX every_type_j ON every_type USING gin (j);
        CREATE INDEX every_type_j_paths ON every_type USING gin (j jsonb_path_ops);
        CREATE INDEX every_type_ta ON every_type USING gin (ta);
        CREATE INDEX every_type_r ON every_type USING gist (r);

        CREATE TABLE measurements (id bigint, at date NOT NULL, v float8, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
        CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (id);
        CREATE TABLE measurements_2024_all PARTITION OF measurements_2024 DEFAULT;
        CREATE INDEX measurements_v ON measurements (v);
        INSERT INTO measurements SELECT g, date '2023-01-01' + (g % 700), g / 7.0 FROM generate_series(1, 5000) g;

        CREATE TABLE parent_inh (id int PRIMARY KEY, name text);
        CREATE TABLE child_inh (extra text) INHERITS (parent_inh);
        INSERT INTO parent_inh VALUES (1, 'parent only');
        INSERT INTO child_inh VALUES (2, 'child', 'x'), (3, 'child', 'y');

        CREATE TABLE gen (id int PRIMARY KEY, ident bigint GENERATED ALWAYS AS IDENTITY, doubled bigint GENERATED ALWAYS AS (id * 2) STORED);
        INSERT INTO gen (id) SELECT generate_series(1, 100);
        ALTER TABLE gen DROP COLUMN IF EXISTS nothing;

        CREATE TABLE dropped_col (a int, gone text, b text);
        ALTER TABLE dropped_col DROP COLUMN gone;
        INSERT INTO dropped_col VALUES (1, 'one'), (2, 'two');

        CREATE UNLOGGED TABLE scratch (k text, v text);
        INSERT INTO scratch SELECT 'k' || g, repeat('v', g) FROM generate_series(1, 200) g;

        CREATE TABLE no_key (a int, b text);
        INSERT INTO no_key SELECT g % 10, 'dup' FROM generate_series(1, 1000) g;

        CREATE TABLE wide (id int PRIMARY KEY, pad text, at timestamptz);
        INSERT INTO wide SELECT g, repeat(md5(g::text), 3), timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 40000) g;
        CREATE TABLE wide_ref (id int PRIMARY KEY REFERENCES wide (id));
        INSERT INTO wide_ref SELECT generate_series(1, 40000, 7);

        CREATE SEQUENCE standalone START 5 INCREMENT 5;
        SELECT setval('standalone', 12345);
        CREATE SEQUENCE never_used;

        SELECT lo_from_bytea(0, 'small large object');
        SELECT lo_from_bytea(0, decode(repeat('0123456789abcdef', 200000), 'hex'));
        SELECT lo_from_bytea(0, '');
        DO $$ BEGIN EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', lo_from_bytea(0, 'commented'), 'kept with its large object'); END $$;
        ANALYZE;
        """;
}

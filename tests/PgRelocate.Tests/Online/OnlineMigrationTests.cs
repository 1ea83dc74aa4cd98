using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online.Steps;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// `migrate --online` end to end on real servers: copy from the slot's snapshot, follow every kind of change
/// while the source stays writable, then switch with `cutover`; crashes, cut connections, schema changes,
/// cancel, and the prerequisites `check --online` enforces.
/// </summary>
[Heavy(435)]
public class OnlineMigrationTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = """
        CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, doc text, qty int NOT NULL DEFAULT 0,
                            double_qty int GENERATED ALWAYS AS (qty * 2) STORED);
        CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE scratch (id int PRIMARY KEY, v text);
        CREATE TABLE audit (id bigserial PRIMARY KEY, item int, note text);
        CREATE FUNCTION audit_item() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (item, note) VALUES (NEW.id, 'inserted'); RETURN NEW; END $$;
        CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION audit_item();
        INSERT INTO items (name, doc, qty) SELECT 'item ' || g, CASE WHEN g % 100 = 0 THEN repeat(md5(g::text), 4000) END, g FROM generate_series(1, 2000) g;
        INSERT INTO events SELECT g, DATE '2024-01-01' + (g % 700), 'e' || g FROM generate_series(1, 3000) g;
        INSERT INTO scratch SELECT g, 's' || g FROM generate_series(1, 500) g;
        """;

    private const string Changes = """
        INSERT INTO items (name, doc, qty) SELECT 'new ' || g, repeat('x', 10000), g FROM generate_series(1, 300) g;
        UPDATE items SET qty = qty + 1 WHERE id % 100 = 0;          -- the big doc (TOASTed) is left unchanged
        UPDATE items SET name = name || '!' WHERE id BETWEEN 10 AND 60;
        DELETE FROM items WHERE id BETWEEN 61 AND 80;
        UPDATE items SET id = id + 100000 WHERE id = 5;               -- a changed key
        UPDATE events SET at = DATE '2025-06-01' WHERE id <= 50;      -- rows move to another partition
        DELETE FROM events WHERE id BETWEEN 100 AND 120;
        INSERT INTO events VALUES (9999, DATE '2025-03-03', 'late');
        TRUNCATE scratch;
        INSERT INTO scratch VALUES (1, 'after truncate');
        SELECT nextval('items_id_seq') FROM generate_series(1, 10);
        """;

    [Fact]
    public async Task Should_Carry_Every_Change_Kind_And_Switch_With_The_Target_Identical()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("switched");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--report", dir.File("report.html"));
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "UPDATE items SET qty = qty + 1 WHERE id <= 100");
        await run.WaitForVerifiedAsync();

        await PgServer.ExecuteAsync(source, Changes);
        await PgServer.ExecuteAsync(source, "BEGIN; INSERT INTO items (name) VALUES ('rolled back'); ROLLBACK;");
        await run.WaitForChangesAsync(300);
        var cutover = await run.CutoverAsync(id);

        Assert.Contains("writes were refused for", cutover.Stdout, StringComparison.Ordinal);
        Assert.Contains("DATABASE_URL=", cutover.Stdout, StringComparison.Ordinal);
        await AssertSameAsync(source, target, dir.Path);
        // The target's trigger did not fire a second time for the replicated inserts, and is on again.
        Assert.Equal(2300L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM audit"));
        Assert.Equal("O", (await PgServer.ScalarAsync<char>(target, "SELECT tgenabled FROM pg_trigger WHERE tgname = 'items_audit'")).ToString());
        Assert.Null(await PgServer.ScalarAsync<string>(target, "SELECT to_regnamespace('pgrelocate_online')::text"));
        Assert.Equal(await PgServer.ScalarAsync<long>(source, "SELECT last_value FROM items_id_seq"), await PgServer.ScalarAsync<long>(target, "SELECT last_value FROM items_id_seq"));
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.NotNull(journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.WriteDowntime));
        Assert.Contains("verified identical while following", journal.Step("follow").Summary, StringComparison.Ordinal);
        // At the snapshot the copy took once its rows were in, before the follow began: one, no other taken after it.
        var log = journal.Log.ToList();
        var taken = Assert.Single(log.Select((l, i) => (l, i)), x => x.l.Contains("Taking a snapshot of the source to verify", StringComparison.Ordinal));
        Assert.True(taken.i < log.FindIndex(l => l.Contains("Following the source", StringComparison.Ordinal)), string.Join("\n", log));
        // The report charts every lag sample the follow and the cutover recorded, with their phases.
        var samples = journal.Steps.SelectMany(s => s.Lag ?? []).ToList();
        Assert.Contains(samples, s => s.Phase == "follow");
        Assert.Contains(samples, s => s.Phase == "verify");
        Assert.Contains(journal.Step("cutover").Lag ?? [], s => s.Phase == "cutover");
        var html = await File.ReadAllTextAsync(dir.File("report.html"));
        Assert.Equal(samples.Count, Migration.LagChartTests.PointsOf(Migration.LagChartTests.Svg(html), "lag"));
        Assert.Contains("Lag while following", html, StringComparison.Ordinal);
        Migration.LagChartTests.AssertSelfContained(html);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Apply_A_Large_Transaction_And_A_Table_Without_Key_With_Replica_Identity_Full()
    {
        var source = await servers.SourceAsync("""
            CREATE TABLE big (id int PRIMARY KEY, v int);
            CREATE TABLE nokey (a int, b text);
            INSERT INTO big SELECT g, 0 FROM generate_series(1, 200000) g;
            INSERT INTO nokey SELECT g % 50, 'n' || g FROM generate_series(1, 200) g;
            """);
        var target = await servers.Target.CreateDatabaseAsync("bigtx");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--replica-identity-full");
        var id = await run.WaitForFollowAsync();

        await PgServer.ExecuteAsync(source, """
            UPDATE big SET v = v + 1;
            UPDATE nokey SET b = b || '?' WHERE a = 7;
            DELETE FROM nokey WHERE a = 8;
            INSERT INTO nokey VALUES (1, 'n51');
            """);
        await run.WaitForChangesAsync(200000);
        await run.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Equal(200000L, await PgServer.ScalarAsync<long>(target, "SELECT sum(v) FROM big"));
        // REPLICA IDENTITY FULL was for the migration only.
        Assert.Equal("d", (await PgServer.ScalarAsync<char>(source, "SELECT relreplident FROM pg_class WHERE relname = 'nokey'")).ToString());
    }

    [Fact]
    public async Task Should_Switch_When_A_Table_Given_Replica_Identity_Full_Was_Dropped_While_Following()
    {
        var source = await servers.SourceAsync("""
            CREATE TABLE kept (a int, b text);
            CREATE TABLE "Gone Table" (a int, b text);
            INSERT INTO kept SELECT g, 'k' || g FROM generate_series(1, 20) g;
            INSERT INTO "Gone Table" SELECT g, 'g' || g FROM generate_series(1, 20) g;
            """);
        var target = await servers.Target.CreateDatabaseAsync("identitygone");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--replica-identity-full");
        var id = await run.WaitForFollowAsync();

        await PgServer.ExecuteAsync(source, """DROP TABLE "Gone Table"; INSERT INTO kept VALUES (21, 'written while following')""");
        await Eventually.Holds(async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM kept") == 21, TimeSpan.FromSeconds(60));
        await run.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 'Gone Table'"));
        // The table left has its replica identity back on both sides.
        Assert.Equal("d", (await PgServer.ScalarAsync<char>(target, "SELECT relreplident FROM pg_class WHERE relname = 'kept'")).ToString());
        Assert.Equal("d", (await PgServer.ScalarAsync<char>(source, "SELECT relreplident FROM pg_class WHERE relname = 'kept'")).ToString());
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Apply_Large_Transactions_Streamed_Before_Their_Commit_With_Rollbacks_And_A_Kill_In_Between()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g; CREATE TABLE small (id int PRIMARY KEY);");
        var target = await servers.Target.CreateDatabaseAsync("streamed");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();

        // A large transaction stays open (over the source's logical_decoding_work_mem: it is streamed) while
        // small ones commit, and another large one is rolled back.
        await using var large = new Npgsql.NpgsqlConnection(source.ToNpgsqlConnectionString());
        await large.OpenAsync();
        await Db.ExecuteAsync(large, "BEGIN; INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1001, 6000) g;", CancellationToken.None);
        await PgServer.ExecuteAsync(source, "INSERT INTO small VALUES (1); UPDATE t SET v = 'small' WHERE id = 1;");
        await PgServer.ExecuteAsync(source, "BEGIN; INSERT INTO t SELECT g, 'gone' FROM generate_series(10001, 15000) g; ROLLBACK;");
        await Eventually.Holds(() => Spooled(dir.Path).Any(), TimeSpan.FromSeconds(10));
        Assert.NotEmpty(Spooled(dir.Path));
        // The status counts the large transaction's changes applied as they arrive: wait for the small one on the target itself.
        await Eventually.Holds(async () => await PgServer.ScalarAsync<string>(target, "SELECT v FROM t WHERE id = 1") == "small", TimeSpan.FromSeconds(30));

        Assert.Equal("small", await PgServer.ScalarAsync<string>(target, "SELECT v FROM t WHERE id = 1"));
        Assert.Equal(1000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));

        // Killed while the transaction is open: the resumed follow has the source send it again from its start.
        run.Process!.Kill(entireProcessTree: true);
        Assert.NotEqual(0, (await run.Result).ExitCode);
        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        await Db.ExecuteAsync(large, """
            SAVEPOINT a; UPDATE t SET v = 'rolled back' WHERE id > 1000; ROLLBACK TO SAVEPOINT a;
            SAVEPOINT b; DELETE FROM t WHERE id BETWEEN 1001 AND 1500; RELEASE SAVEPOINT b;
            UPDATE t SET v = 'kept' WHERE id > 5000;
            COMMIT;
            """, CancellationToken.None);
        await resumed.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Equal(5500L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));
        Assert.Equal(1000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE v = 'kept'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE v IN ('rolled back', 'gone')"));
        Assert.Empty(Spooled(dir.Path));
    }

    [Fact]
    public async Task Should_Apply_A_Large_Transaction_As_It_Arrives_While_Others_Commit_Around_It()
    {
        var source = await servers.SourceAsync("""
            CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g;
            CREATE TABLE other (id int PRIMARY KEY, v text); INSERT INTO other SELECT g, 'o' FROM generate_series(1, 100) g;
            CREATE TABLE emptied (id int PRIMARY KEY); INSERT INTO emptied SELECT generate_series(1, 10);
            """);
        var target = await servers.Target.CreateDatabaseAsync("live");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();

        // The first large transaction is applied as it arrives; the second, open at the same time, waits on disk
        // for its commit; the third truncates a table, so it is applied at its commit too.
        await using var first = new Npgsql.NpgsqlConnection(source.ToNpgsqlConnectionString());
        await using var second = new Npgsql.NpgsqlConnection(source.ToNpgsqlConnectionString());
        await first.OpenAsync();
        await second.OpenAsync();
        await Db.ExecuteAsync(first, "BEGIN; UPDATE t SET v = 'first' WHERE id <= 500; INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1001, 6000) g;", CancellationToken.None);
        await WaitForAsync(target, """
            SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE a.application_name = 'pgrelocate online apply streamed' AND l.relation = 'public.t'::regclass AND l.mode = 'RowExclusiveLock'
            """, "the first large transaction applied on the target before its commit");
        Assert.Equal(1000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));

        await Db.ExecuteAsync(second, "BEGIN; INSERT INTO other SELECT g, repeat('y', 100) FROM generate_series(101, 5100) g;", CancellationToken.None);
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = 'small' WHERE id = 900; INSERT INTO other VALUES (-1, 'small');");
        await PgServer.ExecuteAsync(source, "UPDATE other SET v = 'small again' WHERE id = 1;");
        // The small transactions committed while both large ones are open are applied meanwhile.
        await WaitForAsync(target, "SELECT count(*) FROM t WHERE id = 900 AND v = 'small' AND EXISTS (SELECT FROM other WHERE id = 1 AND v = 'small again')", "the small transactions applied");
        await Db.ExecuteAsync(first, "UPDATE t SET v = 'first, later' WHERE id BETWEEN 5001 AND 5100; COMMIT;", CancellationToken.None);
        await Db.ExecuteAsync(second, "DELETE FROM other WHERE id BETWEEN 101 AND 200; COMMIT;", CancellationToken.None);
        await PgServer.ExecuteAsync(source, "BEGIN; INSERT INTO t SELECT g, 'third' FROM generate_series(10001, 15000) g; TRUNCATE emptied; INSERT INTO emptied VALUES (42); COMMIT;");
        await run.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Equal(11000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));
        Assert.Equal(500L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE v = 'first'"));
        Assert.Equal(100L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE v = 'first, later'"));
        Assert.Equal(5001L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM other"));
        Assert.Equal(42, await PgServer.ScalarAsync<int>(target, "SELECT id FROM emptied"));
        Assert.Empty(Spooled(dir.Path));
        // One replication session from the follow's start to the switch, the cutover included.
        Assert.Single(run.Journal().Log, l => l.Contains("Streaming the source's changes from", StringComparison.Ordinal));
    }

    private static Task WaitForAsync(PgConnectionInfo db, string sql, string what) =>
        Eventually.True(async () => await PgServer.ScalarAsync<long>(db, sql) != 0, TimeSpan.FromSeconds(30), $"never saw {what}");

    /// <summary>Large transactions' changes the follow keeps on disk until their commit.</summary>
    private static IEnumerable<string> Spooled(string workDir) => Directory.EnumerateFiles(workDir, "transaction-*.changes", SearchOption.AllDirectories);

    [Fact]
    public async Task Should_Block_Check_And_Migration_On_A_Table_Without_Key_Naming_It()
    {
        var source = await servers.SourceAsync("CREATE TABLE keyless (a int, b text); INSERT INTO keyless VALUES (1, 'x');");
        var target = await servers.Target.CreateDatabaseAsync("blocked");

        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--online");
        var allowed = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--online", "--replica-identity-full");
        using var dir = new TempDir();
        var migrate = await OnlineRun.Start(source, target, dir.Path).Result;

        Assert.Equal(3, check.ExitCode);
        Assert.Contains("keyless", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("--replica-identity-full", check.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("BLOCK online: replica identity", allowed.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, migrate.ExitCode);
        Assert.Contains("keyless", migrate.Output, StringComparison.Ordinal);
        await AssertNothingLeftAsync(source);
    }

    [Fact]
    public async Task Should_Block_Check_Online_For_A_Role_Without_Replication_With_The_Fix()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY);", replication: false);

        var noLogical = await servers.Target.CreateDatabaseAsync("physical");

        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--online");
        var walLevel = await CliRunner.RunAsync("check", "--source", CliRunner.Url(noLogical), "--online");

        Assert.Equal(3, check.ExitCode);
        Assert.Contains("BLOCK online: replication role", check.Stdout, StringComparison.Ordinal);
        Assert.Contains($"ALTER ROLE {source.User} WITH REPLICATION", check.Stdout, StringComparison.Ordinal);
        Assert.Equal(3, walLevel.ExitCode);
        Assert.Contains("BLOCK online: wal_level", walLevel.Stdout, StringComparison.Ordinal);
        Assert.Contains("wal_level = logical", walLevel.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Verify_While_Following_And_Switch_Automatically_While_The_Source_Never_Stops_Writing()
    {
        var source = await servers.SourceAsync("CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp()); CREATE TABLE hits (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO hits SELECT g, 0 FROM generate_series(1, 10) g;");
        var target = await servers.Target.CreateDatabaseAsync("busy");
        using var dir = new TempDir();
        // An application that writes every few milliseconds until the cutover makes its database read-only.
        await using var writer = ApplicationWriter.Start(source, "INSERT INTO ticks DEFAULT VALUES; UPDATE hits SET n = n + 1 WHERE id = 1 + (random() * 9)::int");

        var run = OnlineRun.Start(source, target, dir.Path, "--cutover", "auto", "--max-lag", "5s");
        var result = await run.Result;
        await writer.StopAsync();

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(writer.Writes > 100, $"only {writer.Writes} writes while following");
        Assert.Contains("verified identical while following", MigrationJournal.All(dir.Path).Single().Step("follow").Summary, StringComparison.Ordinal);
        await AssertSameAsync(source, target, dir.Path);
    }

    [Fact]
    public async Task Should_Apply_Hot_Rows_Unique_Swaps_And_Cascaded_Deletes_As_The_Source_Did()
    {
        var source = await servers.SourceAsync("""
            CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, note text);
            CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL UNIQUE, visits int NOT NULL DEFAULT 0);
            CREATE TABLE parents (id int PRIMARY KEY, name text);
            CREATE TABLE children (id int PRIMARY KEY, parent int REFERENCES parents ON DELETE CASCADE, v int);
            -- note is TOASTed out of line: random text does not compress.
            INSERT INTO counters SELECT g, 0, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 400)) FROM generate_series(1, 5) g;
            INSERT INTO people SELECT g, 'p' || g || '@example.com' FROM generate_series(1, 10) g;
            INSERT INTO parents SELECT g, 'parent ' || g FROM generate_series(1, 20) g;
            INSERT INTO children SELECT g, g % 20 + 1, g FROM generate_series(1, 200) g;
            CREATE TABLE odd (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, t text, b bytea, a text[], j jsonb,
                              ts timestamptz, n numeric, iv interval, d date);
            """);
        var target = await servers.Target.CreateDatabaseAsync("hot");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();

        // One source transaction updating five rows 300 times (the hot rows of a busy application), with the
        // TOASTed note changed once in between and left unchanged by every other UPDATE.
        var hot = string.Join("\n", Enumerable.Range(0, 300).Select(i => i == 150
            ? "UPDATE counters SET note = 'rewritten ' || id, n = n + 1 WHERE id = 3;"
            : $"UPDATE counters SET n = n + 1 WHERE id = {i % 5 + 1};"));
        await PgServer.ExecuteAsync(source, "BEGIN;\n" + hot + "\nCOMMIT;");
        // Unique values swapped through a third value, in separate transactions and in one; visits counted in between.
        await PgServer.ExecuteAsync(source, """
            BEGIN; UPDATE people SET email = 'swap' WHERE id = 1; UPDATE people SET visits = visits + 1 WHERE id = 1; COMMIT;
            BEGIN; UPDATE people SET email = 'p1@example.com' WHERE id = 2; COMMIT;
            BEGIN; UPDATE people SET email = 'p2@example.com', visits = visits + 1 WHERE id = 1; COMMIT;
            BEGIN; UPDATE people SET email = 'x' WHERE id = 3; UPDATE people SET email = 'p3@example.com' WHERE id = 4;
                   UPDATE people SET email = 'p4@example.com' WHERE id = 3; COMMIT;
            BEGIN; UPDATE children SET v = v + 1 WHERE id = 7; UPDATE children SET v = v + 1 WHERE id = 7; COMMIT;
            DELETE FROM parents WHERE id IN (3, 4);
            """);
        // Runs of INSERTs (sent by COPY) with every value COPY's text format must escape, and NULLs.
        await PgServer.ExecuteAsync(source, """
            INSERT INTO odd (t, b, a, j, ts, n, iv, d)
            SELECT E'tab\there\nnew line\\back slash\r ' || g, decode(md5(g::text), 'hex'), ARRAY['a b', NULL, E'q"uote\\'],
                   jsonb_build_object('k', g, 's', E'x\ty\\z'), now() - g * interval '1 hour', g / 3.0, g * interval '1 minute 3 seconds', DATE '2024-02-29' + g
            FROM generate_series(1, 100) g;
            INSERT INTO odd (t) SELECT NULL FROM generate_series(1, 30);
            INSERT INTO odd (t) VALUES ('one alone');
            """);
        await run.WaitForChangesAsync(300 + 7 + 2 + 2 + 20 + 131);
        await run.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Equal(300L, await PgServer.ScalarAsync<long>(target, "SELECT sum(n)::bigint FROM counters"));
        Assert.Equal("rewritten 3", await PgServer.ScalarAsync<string>(target, "SELECT note FROM counters WHERE id = 3"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM children WHERE parent IN (3, 4)"));
        // The 300 UPDATEs of five rows reached the target as a few statements, not one each.
        var updates = 0L;
        await Eventually.Holds(
            async () => (updates = await PgServer.ScalarAsync<long>(target, "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'counters'")) != 0,
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));

        Assert.InRange(updates, 1, 20);
    }

    [Theory]
    [InlineData("ALTER TABLE t RENAME COLUMN v TO w", "INSERT INTO t VALUES (102, 'after')", "column w")]
    [InlineData("ALTER TABLE t ALTER COLUMN v TYPE varchar(20)", "INSERT INTO t VALUES (102, 'after')", "type of column v")]
    public async Task Should_Stop_Cleanly_On_A_Schema_Change_During_Follow(string change, string insert, string named)
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;");
        var target = await servers.Target.CreateDatabaseAsync("ddl");
        using var dir = new TempDir();
        // Carried by default (OnlineColumnCarryTests): '--on-schema-change stop' keeps the stop.
        var run = OnlineRun.Start(source, target, dir.Path, "--on-schema-change", "stop");
        await run.WaitForFollowAsync();

        await PgServer.ExecuteAsync(source, "INSERT INTO t VALUES (101, 'before')");
        await run.WaitForChangesAsync(1);
        await PgServer.ExecuteAsync(source, change);
        await PgServer.ExecuteAsync(source, insert);
        var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(3));

        // The whole output and the journal's error when the stop is not the one expected (CI saw, twice, a stop whose
        // output lacked "changed on the source", without what it said instead).
        var stop = $"{result}\n{run.Journal().ErrorDetail}";
        Assert.True(result.ExitCode != 0, stop);
        Assert.True(result.Output.Contains("changed on the source", StringComparison.Ordinal), stop);
        Assert.True(result.Output.Contains(named, StringComparison.Ordinal), stop);
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE id = 101"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE id = 102"));
        await AssertNothingLeftAsync(source);
    }

    [Fact]
    public async Task Should_Resume_From_The_Stored_Position_After_A_Kill_During_Follow()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g; CREATE TABLE before_kill (id int PRIMARY KEY);");
        var target = await servers.Target.CreateDatabaseAsync("killed");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "INSERT INTO before_kill VALUES (1);");
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = v + 1 WHERE id <= 500; INSERT INTO t SELECT g, 1 FROM generate_series(1001, 1200) g;");
        await run.WaitForChangesAsync(700);

        run.Process!.Kill(entireProcessTree: true);
        Assert.NotEqual(0, (await run.Result).ExitCode);
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = v + 10 WHERE id > 900; DELETE FROM t WHERE id <= 10;");
        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "INSERT INTO t VALUES (5000, 5);");
        await resumed.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        // The final count covers the table only the killed run changed: the target recorded it.
        Assert.Contains("2 changed tables counted", MigrationJournal.Load(dir.Path, id).Step("cutover").Summary, StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Not_Repeat_What_The_Lanes_Committed_When_Killed_Before_The_Follow_Stored_Its_Position()
    {
        var tables = Enumerable.Range(1, 8).Select(i => $"t{i}").ToList();
        var source = await servers.SourceAsync(string.Concat(tables.Select(t => $"CREATE TABLE {t} (id int PRIMARY KEY, v int);")));
        var target = await servers.Target.CreateDatabaseAsync("lanes");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:follow:lanes-committed" }, "--jobs", "2");
        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();
        // Both apply connections follow, each with its own tables.
        var sessions = 0L;
        await Eventually.Holds(
            async () => (sessions = await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(target.Database), "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgrelocate online apply%'")) == 2,
            TimeSpan.FromSeconds(5));

        Assert.Equal(2L, sessions);

        // One source transaction over tables of both lanes: the lanes commit their parts, then the process dies
        // before the follow stores the position that covers the transaction.
        await PgServer.ExecuteAsync(source, "BEGIN; " + string.Concat(tables.Select(t => $"INSERT INTO {t} VALUES (1, 1); ")) + "COMMIT;");
        Assert.Equal(137, (await run.Result).ExitCode);
        Assert.Equal(8L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pgrelocate_online.table_positions"));

        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "BEGIN; " + string.Concat(tables.Select(t => $"INSERT INTO {t} VALUES (2, 2); UPDATE {t} SET v = v + 1 WHERE id = 1; ")) + "COMMIT;");
        await resumed.WaitForChangesAsync(16);
        await resumed.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        foreach (var t in tables)
        {
            Assert.Equal(4L, await PgServer.ScalarAsync<long>(target, $"SELECT sum(v)::bigint FROM {t}"));
        }
    }

    [Fact]
    public async Task Should_Not_Repeat_A_Large_Transaction_Applied_As_It_Arrived_When_Killed_Before_The_Source_Heard_Of_It()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;");
        var target = await servers.Target.CreateDatabaseAsync("livekill");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:follow:streamed-committed" });
        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();

        // Streamed (over the source's logical_decoding_work_mem), applied as it arrives, committed on the target
        // with its position; the process dies before it confirms anything to the source, which sends it again.
        await PgServer.ExecuteAsync(source, "BEGIN; INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(101, 5100) g; UPDATE t SET v = 'large' WHERE id <= 100; COMMIT;");
        Assert.Equal(137, (await run.Result).ExitCode);
        Assert.Equal(5100L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));

        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = 'after' WHERE id = 1; INSERT INTO t VALUES (0, 'after');");
        await resumed.WaitForChangesAsync(2);
        await resumed.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Equal(5101L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));
        Assert.Equal(99L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE v = 'large'"));
        Assert.Empty(Spooled(dir.Path));
    }

    [Fact]
    public async Task Should_Reconnect_When_The_Target_Connection_Is_Cut_During_Follow()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g;");
        var target = await servers.Target.CreateDatabaseAsync("cut");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = 1;");
        await run.WaitForChangesAsync(100);

        await run.WaitForVerifiedAsync();
        // The verification pauses the apply between sessions: cut the one that follows after it.
        var admin = servers.Target.Cluster.Superuser();
        await Eventually.Holds(async () => await PgServer.ScalarAsync<long>(admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgrelocate online apply'") != 0, TimeSpan.FromMinutes(2));

        await servers.Target.ExecuteAsync("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgrelocate online apply'");
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = 2; INSERT INTO t VALUES (101, 2);");
        await run.WaitForChangesAsync(201);
        await run.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Contains(MigrationJournal.All(dir.Path).Single().Log, l => l.Contains("lost a connection", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_Cut_Over_When_The_Source_Role_May_Not_Write_The_Marker()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g;");
        // As a provider may: the cutover then waits for the source's position instead of its marker.
        await PgServer.ExecuteAsync(servers.Source.Cluster.Superuser(source.Database), "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) FROM PUBLIC");
        var target = await servers.Target.CreateDatabaseAsync("no_marker");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "UPDATE t SET v = 1; INSERT INTO t VALUES (101, 1);");
        await run.CutoverAsync(id);

        await AssertSameAsync(source, target, dir.Path);
        Assert.Equal(101L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t WHERE v = 1"));
    }

    [Fact]
    public async Task Should_Leave_No_Slot_Or_Publication_When_Canceled()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);");
        var target = await servers.Target.CreateDatabaseAsync("canceled");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();

        // --json prints one object and returns, though the migration follows; --watch --json follows, an object a line.
        var status = await CliRunner.RunAsync("status", id, "--json", "--workdir", dir.Path);
        var returnedWhileRunning = !run.Result.IsCompleted;
        var watchedLines = 0;
        var watching = CliRunner.RunAsync(["status", id, "--watch", "--json", "--workdir", dir.Path], null, TimeSpan.FromMinutes(2), onOutput: o => Interlocked.Add(ref watchedLines, o.Count(c => c == '\n')));
        await Eventually.True(() => Volatile.Read(ref watchedLines) > 0 || watching.IsCompleted, TimeSpan.FromMinutes(1), "status --watch --json printed nothing");
        var cancel = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path);
        var result = await run.Result;
        var watched = await watching;

        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.True(returnedWhileRunning, "status --json returned only once the migration had ended");
        using (var one = System.Text.Json.JsonDocument.Parse(status.Stdout))
        {
            Assert.Equal("Running", one.RootElement.GetProperty("status").GetString());
            Assert.True(one.RootElement.GetProperty("online").GetProperty("lagBytes").ValueKind == System.Text.Json.JsonValueKind.Number);
            Assert.True(one.RootElement.GetProperty("online").TryGetProperty("changesPerSecond", out _));
        }

        var lines = watched.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 2, watched.ToString());
        Assert.All(lines, l => System.Text.Json.JsonDocument.Parse(l).Dispose());
        Assert.Equal("Canceled", System.Text.Json.JsonDocument.Parse(lines[^1]).RootElement.GetProperty("status").GetString());
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.All(dir.Path).Single().Status);
        await AssertNothingLeftAsync(source);
        await PgServer.ExecuteAsync(source, "INSERT INTO t VALUES (1000)");
    }

    [Fact]
    public async Task Should_Remove_The_Slot_When_Canceled_After_The_Process_Was_Killed()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);");
        var target = await servers.Target.CreateDatabaseAsync("orphan");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        run.Process!.Kill(entireProcessTree: true);
        await run.Result;

        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source));
        var cancel = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path, "--source", CliRunner.Url(source));

        Assert.Contains("leftover replication slots", check.Stdout, StringComparison.Ordinal);
        Assert.Contains(id.Replace('-', '_'), check.Stdout, StringComparison.Ordinal);
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains("removed from the source", cancel.Stdout, StringComparison.Ordinal);
        await AssertNothingLeftAsync(source);
    }

    [Fact]
    public async Task Should_Stop_The_Follow_And_Drop_The_Slot_Once_It_Holds_More_Wal_Than_Allowed()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id serial PRIMARY KEY, v text);");
        var target = await servers.Target.CreateDatabaseAsync("retained");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--max-retained-wal", "256kB", "--lock-timeout", "7");

        // Writes on the source fill the slot's WAL past the limit, whenever the follow starts.
        await run.WriteUntilItEndsAsync(source, "INSERT INTO t (v) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 500) g", TimeSpan.FromMilliseconds(250));

        var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("Follow stopped to protect the source: the slot holds", result.Output, StringComparison.Ordinal);
        var journal = run.Journal();
        Assert.Equal(StepStatus.Failed, journal.Step("follow").Status);
        Assert.Equal("256000", journal.Options["maxRetainedWal"]);
        var resumed = MigrationPlan.FromJournal(journal, source, target, showSecrets: false);
        Assert.Equal(256_000, resumed.MaxRetainedWal);
        Assert.Equal(TimeSpan.FromSeconds(7), resumed.Into.LockTimeout);
        await AssertNothingLeftAsync(source);
    }

    /// <summary>No slot or publication of the tool on the source.</summary>
    private async Task AssertNothingLeftAsync(PgConnectionInfo source)
    {
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_publication"));
    }

    /// <summary>`pgrelocate verify` finds the two identical, exact row counts agree, and nothing of the tool is left.</summary>
    private async Task AssertSameAsync(PgConnectionInfo source, PgConnectionInfo target, string workDir)
    {
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var tables = await PgServer.ScalarAsync<string[]>(source, "SELECT array_agg(format('%I.%I', schemaname, relname)) FROM pg_stat_user_tables");
        foreach (var t in tables!)
        {
            Assert.Equal(await PgServer.ScalarAsync<long>(source, $"SELECT count(*) FROM {t}"), await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM {t}"));
        }

        await AssertNothingLeftAsync(source);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.All(workDir).Single().Status);
    }
}

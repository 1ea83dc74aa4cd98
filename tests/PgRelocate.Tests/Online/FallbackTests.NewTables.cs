using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The way back and the tables the applications create or drop on the target after the switch: a new table (and
/// one referencing it, made with its rows in one transaction), a new partition of a partitioned table, a new
/// partitioned table with its partition, all with rows written before and after the way back captured them; a
/// table dropped; large objects created, changed and removed. After the rollback the old source holds the same
/// schema (pg_dump --schema-only), rows and large objects.
/// </summary>
public partial class FallbackTests
{
    private const string NewTables = """
        CREATE TABLE app.fresh (id serial PRIMARY KEY, v text, big text, at timestamptz DEFAULT now(), n numeric(10,2), CHECK (n >= 0));
        CREATE INDEX fresh_v ON app.fresh (v);
        INSERT INTO app.fresh (v, big, n) SELECT 'f' || g, CASE WHEN g % 10 = 0 THEN repeat(md5(g::text), 500) END, g / 3.0 FROM generate_series(1, 300) g;
        BEGIN;
        CREATE TABLE app.fresh_child (id int PRIMARY KEY, fresh_id int NOT NULL REFERENCES app.fresh, note text);
        INSERT INTO app.fresh_child SELECT g, g, 'a "quoted", (odd) note\' || g FROM generate_series(1, 50) g;
        COMMIT;
        CREATE TABLE app.events_2 PARTITION OF app.events FOR VALUES FROM (100) TO (200);
        INSERT INTO app.events SELECT g, 100 + g % 100, 'new' || g FROM generate_series(21, 80) g;
        CREATE TABLE app.logs (id int, k int, v text) PARTITION BY LIST (k);
        CREATE TABLE app.logs_1 PARTITION OF app.logs FOR VALUES IN (1);
        INSERT INTO app.logs SELECT g, 1, NULL FROM generate_series(1, 10) g;
        UPDATE app.dropped SET v = 'changed';
        DROP TABLE app.dropped;
        """;

    /// <summary>Written once the way back has captured the new tables: their changes go by the triggers.</summary>
    private const string NewTablesAfter = """
        UPDATE app.fresh SET v = 'after', big = big || 'x' WHERE id % 7 = 0;
        DELETE FROM app.fresh_child WHERE id > 40;
        DELETE FROM app.fresh WHERE id > 290;
        UPDATE app.fresh_child SET id = id + 1000 WHERE id = 3;
        INSERT INTO app.events SELECT g, 150, 'late' FROM generate_series(81, 90) g;
        TRUNCATE app.logs_1;
        INSERT INTO app.logs VALUES (1, 1, 'after the truncate');
        SELECT lo_put(4243, 2, 'CHANGED'), lo_unlink(4244), lo_from_bytea(4245, 'created');
        """;

    [Fact]
    public async Task Should_Carry_Back_The_Tables_Created_On_The_Target_After_The_Switch()
    {
        var (source, target, dir, run, id) = await SwitchAsync("newtables");
        using (dir)
        {
            await PgServer.ExecuteAsync(target, NewTables);
            await WaitForWayBackAsync(run, target);
            await Eventually.True(
                async () => await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_class WHERE relname IN ('fresh', 'fresh_child', 'events_2', 'logs_1')") == 4,
                TimeSpan.FromMinutes(1),
                "The way back did not create the new tables on the old source.");
            await PgServer.ExecuteAsync(target, NewTablesAfter);
            // A table created just before the rollback: captured by its last rounds.
            await PgServer.ExecuteAsync(target, "CREATE TABLE app.lastly (id int PRIMARY KEY); INSERT INTO app.lastly VALUES (1), (2);");

            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 0, rollback.ToString());
            Assert.Equal(0, (await run.Result).ExitCode);
            var summary = run.Journal().Step("way back").Summary ?? "";
            Assert.True(summary.Contains("dropped on the target after the switch kept on the old source: app.dropped", StringComparison.Ordinal), summary);
            Assert.Contains("app.dropped", rollback.Output + string.Join("\n", run.Journal().Log), StringComparison.Ordinal);
            Assert.Equal(5L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.dropped"));

            await AssertSameRowsAsync(source, target, "fresh", "fresh_child", "logs", "lastly");
            const string LargeObjects = "SELECT string_agg(oid || ':' || encode(lo_get(oid), 'escape'), ',' ORDER BY oid) FROM pg_largeobject_metadata";
            Assert.Equal("4242:kept,4243:chCHANGED,4245:created", await PgServer.ScalarAsync<string>(source, LargeObjects));
            Assert.Equal(290L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.fresh"));
            Assert.Equal(70L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.events_2"));
            await AssertNothingLeftAsync(source, target);
            // Once the table the target dropped goes, the two are the same database: schema (pg_dump), rows, sequences.
            await PgServer.ExecuteAsync(source, "DROP TABLE app.dropped");
            await DatabaseSnapshot.AssertSameAsync(target, source);
            await PgServer.ExecuteAsync(source, "INSERT INTO app.fresh (v) VALUES ('after the rollback'); INSERT INTO app.fresh_child VALUES (5000, 1, 'x')");
        }
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Capture_A_New_Table_Held_By_A_Long_Transaction_Once_It_Ends()
    {
        // Killed once it applied its first changes: the table is made, and held, while no way back runs.
        var (source, target, dir, run, id) = await SwitchAsync("newlocked", new Dictionary<string, string> { [FaultInjection.Variable] = "kill:way back:applied" });
        using (dir)
        {
            await PgServer.ExecuteAsync(target, "INSERT INTO app.gone VALUES (1000)");
            Assert.NotEqual(0, (await run.Result.WaitAsync(TimeSpan.FromMinutes(2))).ExitCode);
            await PgServer.ExecuteAsync(target, "CREATE TABLE app.held (id int PRIMARY KEY, v text); INSERT INTO app.held VALUES (1, 'before')");
            await using (var hold = new NpgsqlConnection(target.ToNpgsqlConnectionString()))
            {
                // An application's transaction writing the new table: the capture waits for it, and the way back says so.
                await hold.OpenAsync();
                await Db.ExecuteAsync(hold, "BEGIN; INSERT INTO app.held VALUES (2, 'in the long transaction');", CancellationToken.None);
                run = OnlineRun.Resume(source, target, dir.Path, id);
                await Eventually.True(
                    () => OnlineStatus.Read(run.Journal().Folder)?.Blocked?.Contains("app.held (new on the target, locked", StringComparison.Ordinal) == true
                        && run.Journal().Log.Any(l => l.Contains("app.held (new on the target, locked", StringComparison.Ordinal)),
                    TimeSpan.FromMinutes(1),
                    "The way back did not say it waits for the new table.");
                Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'app.held'::regclass"));
                await Db.ExecuteAsync(hold, "UPDATE app.held SET v = 'updated in it' WHERE id = 1; COMMIT;", CancellationToken.None);
            }

            await Eventually.True(
                async () => await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_class WHERE relname = 'held'") == 1,
                TimeSpan.FromMinutes(1),
                "The way back did not create the new table on the old source.");
            await PgServer.ExecuteAsync(target, "UPDATE app.held SET v = 'captured' WHERE id = 2");
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 0, rollback.ToString());
            Assert.Equal(0, (await run.Result).ExitCode);
            await AssertSameRowsAsync(source, target, "held");
            Assert.Equal("(1,\"updated in it\")|(2,captured)", await PgServer.ScalarAsync<string>(source, "SELECT string_agg(t::text, '|' ORDER BY id) FROM app.held t"));
        }
    }
}

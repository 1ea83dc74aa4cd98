using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Online.Fallback;
using PgRelocate.Online.Steps;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// `migrate --online --fallback` into a target whose login role may not replicate (as on Heroku): after the
/// switch the applications write to the target, the capture triggers queue it and the tool applies it to the old
/// source; `rollback` switches back, `finish` keeps the target; a kill during the way back and a resume lose
/// nothing and apply nothing twice. Rows are compared with plain SQL digests on both sides.
/// </summary>
[Heavy(350)]
public partial class FallbackTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = """
        CREATE SCHEMA app;
        CREATE TABLE app.items (id serial PRIMARY KEY, v text, big text);
        CREATE TABLE app.nokey (a int, b text);
        ALTER TABLE app.nokey REPLICA IDENTITY FULL;
        CREATE TABLE app.parent (id int PRIMARY KEY);
        CREATE TABLE app.child (id int PRIMARY KEY, parent_id int REFERENCES app.parent);
        CREATE TABLE app.gone (id int PRIMARY KEY);
        INSERT INTO app.items (v, big) SELECT 'v' || g, NULL FROM generate_series(1, 100) g;
        INSERT INTO app.nokey VALUES (9, 'z'), (9, 'z');
        INSERT INTO app.parent VALUES (1), (2);
        INSERT INTO app.child VALUES (1, 1);
        INSERT INTO app.gone SELECT generate_series(1, 10);
        CREATE TABLE app.events (id int, day int, v text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
        CREATE TABLE app.events_1 PARTITION OF app.events FOR VALUES FROM (0) TO (100);
        INSERT INTO app.events SELECT g, g % 100, 'e' || g FROM generate_series(1, 20) g;
        CREATE TABLE app.ordered (id int PRIMARY KEY, u int UNIQUE, v text);
        INSERT INTO app.ordered SELECT g, g, 'start' FROM generate_series(1, 30) g;
        SELECT lo_from_bytea(4242, 'kept'), lo_from_bytea(4243, 'changed'), lo_from_bytea(4244, 'removed');
        CREATE TABLE app.dropped (id int PRIMARY KEY, v text);
        INSERT INTO app.dropped SELECT g, 'd' FROM generate_series(1, 5) g;
        CREATE UNLOGGED TABLE app.cache (k int PRIMARY KEY, v text);
        INSERT INTO app.cache VALUES (1, 'a'), (2, 'b');
        """;

    /// <summary>Writes to the unlogged table, whose changes no WAL holds: a way back by a slot copies it again at the rollback.</summary>
    private const string UnloggedWrites = "INSERT INTO app.cache VALUES (3, 'new'); UPDATE app.cache SET v = 'changed' WHERE k = 1; DELETE FROM app.cache WHERE k = 2;";

    private static readonly string[] Tables = ["items", "nokey", "parent", "child", "gone", "events", "ordered"];

    /// <summary>The applications' writes to the target after the switch: every kind of change the capture must carry.</summary>
    private const string Writes = """
        INSERT INTO app.items (v, big) SELECT 'new' || g, repeat(md5(g::text), 1000) FROM generate_series(1, 50) g;
        UPDATE app.items SET v = 'changed' WHERE id % 3 = 0;
        UPDATE app.items SET big = big || 'x' WHERE id = 105;
        UPDATE app.items SET v = 'toast kept' WHERE id = 110;
        UPDATE app.items SET id = id + 10000 WHERE id = 7;
        DELETE FROM app.items WHERE id % 5 = 0;
        TRUNCATE app.gone;
        INSERT INTO app.gone VALUES (100);
        INSERT INTO app.nokey VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, NULL);
        DELETE FROM app.nokey WHERE ctid = (SELECT ctid FROM app.nokey WHERE a = 1 LIMIT 1);
        UPDATE app.nokey SET b = 'c' WHERE a = 2;
        UPDATE app.nokey SET b = 'y' WHERE ctid = (SELECT ctid FROM app.nokey WHERE a = 9 LIMIT 1);
        BEGIN; INSERT INTO app.parent VALUES (10); INSERT INTO app.child VALUES (2, 10); COMMIT;
        DELETE FROM app.child WHERE id = 1;
        DELETE FROM app.parent WHERE id = 1;
        BEGIN; INSERT INTO app.items (v) VALUES ('rolled back'); ROLLBACK;
        """;

    [Fact]
    public async Task Should_Roll_Back_To_An_Old_Source_Holding_Exactly_The_Targets_Rows()
    {
        var (source, target, dir, run, id) = await SwitchAsync("back");
        using (dir)
        {
            await PgServer.ExecuteAsync(target, Writes + UnloggedWrites);
            await WaitForWayBackAsync(run, target);
            var status = await CliRunner.RunAsync(["status", id, "--once", "--workdir", dir.Path]);
            Assert.Contains("way back: the old source follows the target", status.Output, StringComparison.Ordinal);

            // Written after the way back caught up: left for the rollback's last round.
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('last'); UPDATE app.items SET v = 'last too' WHERE id = 1;");
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 0, rollback.ToString());
            Assert.Contains($"DATABASE_URL={run.Journal().Source}", rollback.Stdout, StringComparison.Ordinal);
            Assert.Equal(0, (await run.Result).ExitCode);

            await AssertSameRowsAsync(source, target, "cache");
            Assert.Equal(
                await PgServer.ScalarAsync<long>(target, "SELECT last_value FROM app.items_id_seq"),
                await PgServer.ScalarAsync<long>(source, "SELECT last_value FROM app.items_id_seq"));
            await AssertNothingLeftAsync(source, target);
            // The old source takes writes again (the sequence goes on from the target's); the target refuses them.
            await PgServer.ExecuteAsync(source, "INSERT INTO app.items (v) VALUES ('after the rollback')");
            var refused = await Assert.ThrowsAsync<PostgresException>(() => PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('refused')"));
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
        }
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Apply_Concurrent_Conflicting_Transactions_In_Commit_Order()
    {
        var (source, target, dir, run, id) = await SwitchAsync("order");
        using (dir)
        {
            // Four sessions overwrite the same few rows, each transaction several of them in a random order (waiting
            // on one another's locks) after a write of its own (so its first write may come before the one it waits
            // for), while the way back follows: applied out of commit order, a row would end with
            // another transaction's value than the target's. A transaction left open meanwhile holds the way back,
            // so that one round reads all of them at once.
            await using var hold = new NpgsqlConnection(target.ToNpgsqlConnectionString());
            await hold.OpenAsync();
            await Db.ExecuteAsync(hold, "BEGIN; SELECT txid_current();", CancellationToken.None);
            await Task.WhenAll(Enumerable.Range(1, 4).Select(async writer =>
            {
                await using var conn = new NpgsqlConnection(target.ToNpgsqlConnectionString());
                await conn.OpenAsync();
                for (var i = 0; i < 60; i++)
                {
                    try
                    {
                        await WriteAsync(conn, writer, i);
                    }
                    catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected)
                    {
                        // Rolled back, as an application's would be: nothing of it may reach the old source.
                        await Db.ExecuteAsync(conn, "ROLLBACK", CancellationToken.None);
                    }
                }
            }));
            Assert.True(await PgServer.ScalarAsync<long>(target, "SELECT count(DISTINCT xid) FROM pgrelocate_online.fallback_queue") > 100);
            await Db.ExecuteAsync(hold, "COMMIT", CancellationToken.None);
            await WaitForWayBackAsync(run, target);
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 0, rollback.ToString());
            await AssertSameRowsAsync(source, target);
        }

        static Task WriteAsync(NpgsqlConnection conn, int writer, int i) => Db.ExecuteAsync(conn, $"""
            BEGIN;
            INSERT INTO app.nokey VALUES ({writer}, '{i}');
            UPDATE app.items SET v = '{writer}-{i}', big = coalesce(big, '') || '{writer}' WHERE id IN (SELECT g FROM generate_series(1, 6) g ORDER BY random() LIMIT 3);
            DELETE FROM app.nokey WHERE ctid = (SELECT ctid FROM app.nokey WHERE a = {writer} ORDER BY b LIMIT 1) AND {i} % 2 = 0;
            COMMIT;
            """, CancellationToken.None);
    }

    [Fact]
    public async Task Should_Finish_Keeping_The_Target_And_Removing_The_Way_Back_From_Both_Sides()
    {
        var (source, target, dir, run, id) = await SwitchAsync("finish");
        using (dir)
        {
            await PgServer.ExecuteAsync(target, Writes);
            await WaitForWayBackAsync(run, target);
            var finish = await CliRunner.RunAsync(["finish", id, "--workdir", dir.Path]);
            Assert.True(finish.ExitCode == 0, finish.ToString());
            Assert.Contains($"DATABASE_URL={run.Journal().Target}", finish.Stdout, StringComparison.Ordinal);
            Assert.Equal(0, (await run.Result).ExitCode);

            await AssertNothingLeftAsync(source, target);
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('after the finish')");
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgrelocate%'"));
            var refused = await Assert.ThrowsAsync<PostgresException>(() => PgServer.ExecuteAsync(source, "INSERT INTO app.items (v) VALUES ('refused')"));
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
            var again = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(again.ExitCode == 2, again.ToString());
            Assert.Contains("has ended already", again.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Lose_Nothing_And_Apply_Nothing_Twice_When_Killed_During_The_Way_Back()
    {
        var (source, target, dir, run, id) = await SwitchAsync("killed", new Dictionary<string, string> { [FaultInjection.Variable] = "kill:way back:applied" });
        using (dir)
        {
            await PgServer.ExecuteAsync(target, Writes);
            var killed = await run.Result.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.NotEqual(0, killed.ExitCode);
            // Killed after the old source committed the changes, before the queue lost them.
            Assert.True(await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pgrelocate_online.fallback_queue") > 0);

            await PgServer.ExecuteAsync(target, "INSERT INTO app.nokey VALUES (4, 'while killed')");
            var resumed = OnlineRun.Resume(source, target, dir.Path, id);
            await WaitForWayBackAsync(resumed, target);
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 0, rollback.ToString());
            Assert.Equal(0, (await resumed.Result).ExitCode);
            await AssertSameRowsAsync(source, target);
            await AssertNothingLeftAsync(source, target);
        }
    }

    [Fact]
    public async Task Should_End_The_Way_Back_Past_Its_Queue_Limit_And_Leave_The_Target_Working()
    {
        var (source, target, dir, run, id) = await SwitchAsync("limit", null, "--max-fallback-queue", "200kB");
        using (dir)
        {
            // Rows that do not compress: the queue keeps their text twice (old and new) for the UPDATE.
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v, big) SELECT 'big', (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 30)) FROM generate_series(1, 300)");
            await using (var hold = new NpgsqlConnection(target.ToNpgsqlConnectionString()))
            {
                // A transaction left open (with an id, locking no table) holds the way back at its horizon, so the queue only grows.
                await hold.OpenAsync();
                await Db.ExecuteAsync(hold, "BEGIN; SELECT txid_current();", CancellationToken.None);
                await PgServer.ExecuteAsync(target, "UPDATE app.items SET v = 'bigger' WHERE v = 'big'");
                var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(2));
                Assert.True(result.ExitCode == 0, result.ToString());
                await Db.ExecuteAsync(hold, "COMMIT", CancellationToken.None);
            }

            Assert.Contains("over --max-fallback-queue 200.0 kB", run.Journal().Step("way back").Summary, StringComparison.Ordinal);
            await AssertNothingLeftAsync(source, target);
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('still in use')");
            var status = await CliRunner.RunAsync(["finish", id, "--workdir", dir.Path]);
            Assert.True(status.ExitCode == 2, status.ToString());
        }
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Finish_A_Rollback_Killed_Halfway_When_Resumed()
    {
        var (source, target, dir, run, id) = await SwitchAsync("halfway", new Dictionary<string, string> { [FaultInjection.Variable] = "kill:way back:capture removed" });
        using (dir)
        {
            await PgServer.ExecuteAsync(target, Writes);
            await WaitForWayBackAsync(run, target);
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 1, rollback.ToString());
            Assert.Contains("the request is kept: resume it with", rollback.Output, StringComparison.Ordinal);
            Assert.NotEqual(0, (await run.Result).ExitCode);

            var resumed = OnlineRun.Resume(source, target, dir.Path, id);
            Assert.True((await resumed.Result).ExitCode == 0, (await resumed.Result).ToString());
            Assert.Contains("rolled back", run.Journal().Step("way back").Summary, StringComparison.Ordinal);
            await AssertSameRowsAsync(source, target);
            await AssertNothingLeftAsync(source, target);
            await PgServer.ExecuteAsync(source, "INSERT INTO app.items (v) VALUES ('after the rollback')");
        }
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Cancel_After_The_Switch_As_Finish_Does()
    {
        var (source, target, dir, run, id) = await SwitchAsync("cancel");
        using (dir)
        {
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('written on the target')");
            await WaitForWayBackAsync(run, target);
            var cancel = await CliRunner.RunAsync(["cancel", id, "--workdir", dir.Path]);
            Assert.True(cancel.ExitCode == 0, cancel.ToString());
            Assert.Equal(0, (await run.Result).ExitCode);
            Assert.Equal(FallbackEnd.Finish, FallbackStep.EndedAs(run.Journal()));
            await AssertNothingLeftAsync(source, target);
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('after the cancel')");
        }
    }

    [Fact]
    public async Task Should_Say_There_Is_No_Way_Back_Without_Fallback()
    {
        using var dir = new TempDir();
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
        var target = await servers.Target.CreateDatabaseAsync("none");
        var run = OnlineRun.Start(source, target, dir.Path, "--cutover", "auto");
        Assert.Equal(0, (await run.Result).ExitCode);
        var rollback = await CliRunner.RunAsync(["rollback", run.Journal().Id, "--workdir", dir.Path]);
        Assert.True(rollback.ExitCode == 2, rollback.ToString());
        Assert.Contains("has no way back", rollback.Output, StringComparison.Ordinal);
    }

    /// <summary>A source with the test's tables, migrated online with --fallback into a target whose role may not replicate, and switched.</summary>
    private async Task<(PgConnectionInfo Source, PgConnectionInfo Target, TempDir Dir, OnlineRun Run, string Id)> SwitchAsync(string name, Dictionary<string, string>? environment = null, params string[] extra)
    {
        var target = await servers.Target.CreateDatabaseAsync(name);
        Assert.False(await PgServer.ScalarAsync<bool>(target, "SELECT rolreplication FROM pg_roles WHERE rolname = current_user"));
        return await SwitchIntoAsync(target, environment, extra);
    }

    /// <summary>A source with the test's tables, migrated online with --fallback into <paramref name="target"/>, and switched.</summary>
    private async Task<(PgConnectionInfo Source, PgConnectionInfo Target, TempDir Dir, OnlineRun Run, string Id)> SwitchIntoAsync(PgConnectionInfo target, Dictionary<string, string>? environment, string[] extra)
    {
        var source = await servers.SourceAsync(Schema);
        var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, environment, ["--fallback", .. extra]);
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "INSERT INTO app.items (v) SELECT 'during' FROM generate_series(1, 5); UPDATE app.parent SET id = 3 WHERE id = 2;");
        await run.WaitForChangesAsync(6);
        var cutover = await CliRunner.RunAsync(["cutover", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(2));
        Assert.True(cutover.ExitCode == 0, cutover + "\n" + string.Join("\n", run.Journal().Log));
        Assert.Contains("A way back is open", cutover.Stdout, StringComparison.Ordinal);
        return (source, target, dir, run, id);
    }

    /// <summary>Waits until the way back has applied every change the target holds (its queue empty) and says so in the status.</summary>
    private static async Task WaitForWayBackAsync(OnlineRun run, PgConnectionInfo target)
    {
        await Eventually.True(
            async () =>
            {
                if (run.Result.IsCompleted)
                {
                    Assert.Fail("The migration ended during the way back: " + await run.Result);
                }

                return OnlineStatus.Read(run.Journal().Folder) is { Phase: OnlinePhases.WayBack, Changes: > 0 }
                    && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pgrelocate_online.fallback_queue") == 0;
            },
            TimeSpan.FromMinutes(2),
            "The way back did not catch up in time.",
            TimeSpan.FromMilliseconds(200));
    }

    private static async Task AssertSameRowsAsync(PgConnectionInfo source, PgConnectionInfo target, params string[] more)
    {
        foreach (var table in Tables.Concat(more))
        {
            var digest = $"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM app.{table} t";
            Assert.Equal(await PgServer.ScalarAsync<string>(target, digest), await PgServer.ScalarAsync<string>(source, digest));
        }
    }

    private static async Task AssertNothingLeftAsync(PgConnectionInfo source, PgConnectionInfo target)
    {
        foreach (var side in new[] { source, target })
        {
            Assert.Null(await PgServer.ScalarAsync<string>(side, "SELECT to_regnamespace('pgrelocate_online')::text"));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(side, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgrelocate%' OR NOT tgisinternal AND tgenabled = 'D'"));
        }
    }
}

using Npgsql;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// An online migration where a production source is at stake: unlogged tables the application writes all
/// through the follow (copied again at the cutover), a migration killed and never resumed (its slot named with
/// the WAL it holds by every command), and what a cancel says it left.
/// </summary>
public class OnlinePressureTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Switch_With_Unlogged_Tables_Written_All_Through_The_Follow_Identical()
    {
        var source = await servers.SourceAsync("""
            CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE UNLOGGED TABLE sessions (id int PRIMARY KEY, hits bigint NOT NULL, seen text);
            CREATE UNLOGGED TABLE session_events (id bigserial PRIMARY KEY, session int NOT NULL REFERENCES sessions, what text);
            INSERT INTO sessions SELECT g, 0, 'start' FROM generate_series(1, 50) g;
            INSERT INTO session_events (session, what) SELECT 1 + g % 50, 'e' || g FROM generate_series(1, 200) g;
            """);
        var target = await servers.Target.CreateDatabaseAsync("unlogged");
        using var dir = new TempDir();
        using var stop = new CancellationTokenSource();
        // The application writes the unlogged tables (and a logged one) until the cutover makes its database read-only.
        var writes = 0L;
        var writer = Task.Run(async () =>
        {
            await using var conn = new NpgsqlConnection(source.ToNpgsqlConnectionString());
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO ticks DEFAULT VALUES;
                UPDATE sessions SET hits = hits + 1, seen = md5(random()::text) WHERE id = 1 + (random() * 49)::int;
                INSERT INTO session_events (session, what) VALUES (1 + (random() * 49)::int, 'x');
                DELETE FROM session_events WHERE id = (SELECT min(id) FROM session_events);
                INSERT INTO sessions SELECT max(id) + 1, 0, 'new' FROM sessions;
                """, conn);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await cmd.ExecuteNonQueryAsync();
                    writes++;
                }
                catch (PostgresException)
                {
                    return; // read-only: the cutover has begun
                }

                await Task.Delay(3);
            }
        });

        var run = OnlineRun.Start(source, target, dir.Path, "--cutover", "auto", "--max-lag", "5s");
        var result = await run.Result;
        await stop.CancelAsync();
        await writer;

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(writes > 100, $"only {writes} writes while following");
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.Equal(MigrationStatus.Completed, journal.Status);
        Assert.Contains("verified identical while following", journal.Step("follow").Summary, StringComparison.Ordinal);
        Assert.Contains("2 unlogged tables copied again and verified identical", journal.Step("cutover").Summary, StringComparison.Ordinal);
        // Outside our code: every row of every table, and the schema as pg_dump prints it.
        await DatabaseSnapshot.AssertSameAsync(source, target);
        foreach (var table in new[] { "sessions", "session_events", "ticks" })
        {
            Assert.Equal(
                await PgServer.ScalarAsync<string>(source, $"SELECT count(*) || ' ' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM {table} t"),
                await PgServer.ScalarAsync<string>(target, $"SELECT count(*) || ' ' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM {table} t"));
        }

        Assert.Equal("u", await PgServer.ScalarAsync<string>(target, "SELECT relpersistence::text FROM pg_class WHERE relname = 'sessions'"));
        Assert.True(await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM sessions") > 50, "the application added no session");
    }
}

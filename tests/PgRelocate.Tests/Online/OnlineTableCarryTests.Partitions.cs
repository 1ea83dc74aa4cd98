using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// Partitions while following: <c>DETACH PARTITION … CONCURRENTLY</c>, whole and interrupted (the partition left
/// detach pending, then <c>FINALIZE</c>), and a partition maintenance job as pg_partman's <c>run_maintenance()</c>
/// runs it (partitions made ahead, the oldest detached and dropped) while an application writes.
/// </summary>
public partial class OnlineTableCarryTests
{
    private const string ParentsSql = "SELECT string_agg(c.relname || '<' || coalesce(p.relname, ''), ',' ORDER BY c.relname) FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace AND (c.relname LIKE 'events%' OR c.relname LIKE 'metrics%')";

    /// <summary>
    /// A time-partitioned table and its maintenance as pg_partman does it: partitions made ahead from a template
    /// (<c>LIKE</c>, then <c>ATTACH</c>: the parent's indexes are attached to the new table) or as <c>PARTITION OF</c>,
    /// and for retention the oldest detached and dropped, all in the caller's transaction.
    /// </summary>
    private const string Metrics = """
        CREATE TABLE clock (id int PRIMARY KEY, day date NOT NULL);
        INSERT INTO clock VALUES (1, DATE '2025-01-10');
        CREATE TABLE metrics (id bigserial, at timestamptz NOT NULL, v int NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE INDEX metrics_v ON metrics (v);
        CREATE PROCEDURE run_maintenance(today date, premake int, retention int) LANGUAGE plpgsql AS $$
        DECLARE
            d date;
            part text;
            old record;
        BEGIN
            FOR i IN 0..premake LOOP
                d := today + i;
                part := 'metrics_p' || to_char(d, 'YYYYMMDD');
                CONTINUE WHEN to_regclass('public.' || part) IS NOT NULL;
                IF i % 2 = 0 THEN
                    EXECUTE format('CREATE TABLE public.%I (LIKE public.metrics INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
                    EXECUTE format('ALTER TABLE public.metrics ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)', part, d::timestamptz, (d + 1)::timestamptz);
                ELSE
                    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.metrics FOR VALUES FROM (%L) TO (%L)', part, d::timestamptz, (d + 1)::timestamptz);
                END IF;
            END LOOP;
            FOR old IN SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
                       WHERE h.inhparent = 'public.metrics'::regclass AND c.relname < 'metrics_p' || to_char(today - retention, 'YYYYMMDD')
                       ORDER BY 1 LOOP
                EXECUTE format('ALTER TABLE public.metrics DETACH PARTITION public.%I', old.relname);
                EXECUTE format('DROP TABLE public.%I', old.relname);
            END LOOP;
        END $$;
        CALL run_maintenance(DATE '2025-01-06', 6, 10);
        INSERT INTO metrics (at, v) SELECT DATE '2025-01-06' + (g % 5) + time '10:00', g FROM generate_series(1, 1000) g;
        """;

    private const string Year2026 = """
        CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        INSERT INTO events (at, what) SELECT DATE '2026-01-01' + (g % 300), 'y' || g FROM generate_series(1, 300) g;
        """;

    [Fact]
    public async Task Should_Carry_Detach_Partition_Concurrently_Whole_And_Left_Pending()
    {
        using var dir = new TempDir();
        var (source, target, run, id) = await StartAsync("detached_concurrently", dir, extra: Year2026);
        var untouched = await FilesAsync(target, "customers", "orders", "events_2024");
        await using var writer = ApplicationWriter.Start(source, "INSERT INTO events (at, what) VALUES (DATE '2024-05-05', 'app')");

        // Both its transactions run.
        await PgServer.ExecuteAsync(source, "ALTER TABLE events DETACH PARTITION events_2025 CONCURRENTLY");
        await PgServer.ExecuteAsync(source, "INSERT INTO events_2025 (id, at, what) VALUES (900001, DATE '2025-03-03', 'after detach'); UPDATE events_2025 SET what = 'detached' WHERE id % 10 = 0");

        // Interrupted between them, while the transaction that kept its second one waiting is still open.
        await using (await LeaveDetachPendingAsync(source, "events_2026"))
        {
            await PgServer.ExecuteAsync(source, "INSERT INTO events_2026 (id, at, what) VALUES (900002, DATE '2026-05-05', 'pending'); UPDATE events_2026 SET what = 'pending' WHERE id % 7 = 0");
            await ArrivesAsync(
                run,
                "The partition left detach pending",
                async () => !await PgServer.ScalarAsync<bool>(target, "SELECT relispartition FROM pg_class WHERE oid = 'events_2026'::regclass")
                            && await SameRowsAsync(source, target, "events_2025", "events_2026"));
        }

        await PgServer.ExecuteAsync(source, "ALTER TABLE events DETACH PARTITION events_2026 FINALIZE");
        await PgServer.ExecuteAsync(source, "DELETE FROM events_2026 WHERE id % 5 = 0; UPDATE events_2025 SET what = 'later' WHERE id % 3 = 0");
        await ArrivesAsync(
            run,
            "The detached partitions' rows",
            async () => await SameRowsAsync(source, target, "events_2025", "events_2026")
                        && await PgServer.ScalarAsync<string>(source, ParentsSql) == await PgServer.ScalarAsync<string>(target, ParentsSql));
        Assert.Equal(untouched, await FilesAsync(target, untouched.Keys));

        await run.CutoverAsync(id);
        await writer.StopAsync();

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "events", "events_2024", "events_2025", "events_2026", "customers");
        Assert.Equal(await PgServer.ScalarAsync<string>(source, ParentsSql), await PgServer.ScalarAsync<string>(target, ParentsSql));
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.All(dir.Path).Single().Status);
    }

    /// <summary>
    /// A <c>DETACH … FINALIZE</c> while the verification while following compares: it takes its partition's lock, then
    /// waits for every older snapshot, the verification's among them, which would come to the partition and wait for
    /// that lock in turn. CI saw both wait until the migration's time ran out. The verification gives way to it, and
    /// verifies again at a new position.
    /// </summary>
    [Fact]
    public async Task Should_Give_Way_To_A_Detach_Finalize_That_Waits_For_The_Verifications_Snapshot()
    {
        using var dir = new TempDir();
        var source = await servers.SourceAsync(Schema + Year2026);
        await (await LeaveDetachPendingAsync(source, "events_2026")).DisposeAsync();
        var target = await servers.Target.CreateDatabaseAsync("finalized");
        // Killed once the copy is done: resumed, it verifies while a lock the test holds on the target keeps it comparing.
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:snapshot copy:end" });
        Assert.Equal(137, (await run.Result).ExitCode);
        var id = run.Journal().Id;
        await using var holder = new NpgsqlConnection(target.ToNpgsqlConnectionString());
        await holder.OpenAsync();
        await Db.ExecuteAsync(holder, "BEGIN; LOCK TABLE old_logs IN ACCESS EXCLUSIVE MODE", CancellationToken.None);
        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await PgServer.WaitForActivityAsync(target, "application_name = 'pgrelocate verify' AND wait_event_type = 'Lock'", resumed.Result, "the verification waiting for the test's lock");

        var finalize = PgServer.ExecuteAsync(source, "ALTER TABLE events DETACH PARTITION events_2026 FINALIZE");
        await Eventually.True(
            async () => finalize.IsCompleted || await PgServer.ScalarAsync<bool>(source, "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'virtualxid' AND NOT granted)"),
            TimeSpan.FromSeconds(30),
            "The FINALIZE neither waited for an older snapshot nor ended.");
        await Db.ExecuteAsync(holder, "ROLLBACK", CancellationToken.None);
        Assert.True(await Task.WhenAny(finalize, Task.Delay(TimeSpan.FromMinutes(1))) == finalize, "The FINALIZE still waited a minute after the verification could go on: the verification did not give way to it.");
        await finalize;
        await resumed.WaitForVerifiedAsync();
        Assert.Contains(resumed.Journal().Log, l => l.Contains("DETACH PARTITION … FINALIZE) on the source waits for the verification's snapshot to end: the verification gives way", StringComparison.Ordinal));

        await PgServer.ExecuteAsync(source, "UPDATE events_2026 SET what = 'finalized' WHERE id % 4 = 0");
        await resumed.CutoverAsync(id);
        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "events", "events_2024", "events_2025", "events_2026", "customers");
        Assert.Equal(await PgServer.ScalarAsync<string>(source, ParentsSql), await PgServer.ScalarAsync<string>(target, ParentsSql));
    }

    /// <summary>
    /// Leaves <paramref name="partition"/> of events detach pending: its <c>DETACH … CONCURRENTLY</c> cancelled between its
    /// two transactions, the second kept waiting by a transaction that read the partitioned table before. That
    /// transaction stays open in the session returned (disposing it ends it).
    /// </summary>
    private static async Task<NpgsqlConnection> LeaveDetachPendingAsync(PgConnectionInfo source, string partition)
    {
        var older = new NpgsqlConnection(source.ToNpgsqlConnectionString());
        await older.OpenAsync();
        await Db.ExecuteAsync(older, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM events", CancellationToken.None);
        await using (var detaching = new NpgsqlConnection(source.ToNpgsqlConnectionString()))
        {
            await detaching.OpenAsync();
            await Db.ExecuteAsync(detaching, "SET statement_timeout = '3s'", CancellationToken.None);
            var cancelled = await Assert.ThrowsAsync<PostgresException>(() => Db.ExecuteAsync(detaching, $"ALTER TABLE events DETACH PARTITION {partition} CONCURRENTLY", CancellationToken.None));
            Assert.Equal(PostgresErrorCodes.QueryCanceled, cancelled.SqlState);
        }

        Assert.True(await PgServer.ScalarAsync<bool>(source, $"SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = '{partition}'::regclass"));
        return older;
    }

    [Fact]
    public async Task Should_Carry_A_Partition_Maintenance_Job_While_An_Application_Writes()
    {
        using var dir = new TempDir();
        var (source, target, run, id) = await StartAsync("maintained", dir, extra: Metrics);
        var untouched = await FilesAsync(target, "customers", "orders", "events_2024", "metrics_p20250111", "metrics_p20250112");
        await using var writer = ApplicationWriter.Start(source, "INSERT INTO metrics (at, v) SELECT day + time '12:00', 7 FROM clock");
        await using var events = ApplicationWriter.Start(source, "INSERT INTO events (at, what) VALUES (DATE '2024-05-05', 'app')");
        for (var day = 11; day <= 14; day++)
        {
            // The job first (the partitions ahead exist before the clock reaches them), then a new day, then the day's corrections.
            await PgServer.ExecuteAsync(source, $"CALL run_maintenance(DATE '2025-01-{day}', 3, 3)");
            await PgServer.ExecuteAsync(source, $"UPDATE clock SET day = DATE '2025-01-{day}'");
            await PgServer.ExecuteAsync(source, $"UPDATE metrics SET v = v + 1 WHERE at < DATE '2025-01-{day}' AND id % 13 = 0");
            await Eventually.True(async () => writer.Writes > 0 && await PgServer.ScalarAsync<long>(source, $"SELECT count(*) FROM metrics WHERE at >= DATE '2025-01-{day}'") > 0, TimeSpan.FromSeconds(30), "The application did not write into the new day.");
        }

        var partitions = (await PgServer.ScalarAsync<string>(source, "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = 'metrics'::regclass"))!.Split(',');
        Assert.Equal(["metrics_p20250111", "metrics_p20250112", "metrics_p20250113", "metrics_p20250114", "metrics_p20250115", "metrics_p20250116", "metrics_p20250117"], partitions);
        await ArrivesAsync(
            run,
            "The partitions made ahead and their rows",
            async () => await SameRowsAsync(source, target, [.. partitions.Where(p => string.CompareOrdinal(p, "metrics_p20250114") < 0)]));
        // The partitions the job did not touch (written all along) keep their file: nothing copied again.
        Assert.Equal(untouched, await FilesAsync(target, untouched.Keys));

        await run.CutoverAsync(id);
        await writer.StopAsync();
        await events.StopAsync();

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, [.. partitions, "clock", "customers", "events_2024"]);
        Assert.Equal(await PgServer.ScalarAsync<string>(source, ParentsSql), await PgServer.ScalarAsync<string>(target, ParentsSql));
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.All(dir.Path).Single().Status);
    }
}

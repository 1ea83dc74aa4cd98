using System.Diagnostics;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Demo;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>`pgrelocate migrate` end to end: reports, crashes and resumes, cancel, read-only source, detach.</summary>
[Heavy(620)]
public class MigrateTests(MigrateTests.Servers servers) : IClassFixture<MigrateTests.Servers>
{
    public sealed class Servers : PgServerPair
    {
        /// <summary>A small database of a few tables, quick to migrate many times.</summary>
        public async Task<PgConnectionInfo> SmallSourceAsync()
        {
            var db = await Source.CreateDatabaseAsync("small");
            await PgServer.ExecuteAsync(db, """
                CREATE TABLE a (id serial PRIMARY KEY, v text);
                CREATE TABLE b (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a_id int REFERENCES a, j jsonb);
                CREATE TABLE c (x int, y float8);
                INSERT INTO a (v) SELECT md5(g::text) FROM generate_series(1, 20000) g;
                INSERT INTO b (a_id, j) SELECT 1 + g % 20000, jsonb_build_object('g', g) FROM generate_series(1, 30000) g;
                INSERT INTO c SELECT g, g / 7.0 FROM generate_series(1, 10000) g;
                CREATE INDEX b_a ON b (a_id);
                SELECT lo_from_bytea(0, 'large object');
                """);
            return db;
        }
    }

    private static string[] Args(PgConnectionInfo source, PgConnectionInfo target, string workDir, params string[] extra) =>
        ["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", workDir, .. extra];

    [Fact]
    public async Task Should_Migrate_The_Demo_Database_And_Write_A_Readable_Report()
    {
        var source = await servers.Source.CreateDatabaseAsync("shop");
        await SampleDatabase.LoadAsync(servers.Source.Cluster, source, CancellationToken.None);
        var target = await servers.Target.CreateDatabaseAsync("newshop");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(Args(source, target, dir.Path, "--report", dir.File("report.html")), null);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("DATABASE_URL=postgres://", result.Stdout, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var html = await File.ReadAllTextAsync(dir.File("report.html"));
        Assert.Contains("<svg id=\"timeline\"", html, StringComparison.Ordinal);
        Assert.Contains("Preflight checks", html, StringComparison.Ordinal);
        Assert.Contains("Applications to repoint", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Secrets.AssertAbsent(html, "the report");
        var dom = await HeadlessChromium.DumpDomAsync(dir.File("report.html"));
        Assert.Contains("<svg id=\"timeline\"", dom, StringComparison.Ordinal);
        Assert.True(System.Text.RegularExpressions.Regex.Matches(dom, "<rect class=\"bar\"").Count == 7, "each of the 7 steps that ran (read-only source and stage are skipped) has a bar on the timeline");
        Assert.Contains("<table id=\"steps\">", dom, StringComparison.Ordinal);
        Assert.Contains("Verification", dom, StringComparison.Ordinal);
        Assert.Contains("shop.order_items", dom, StringComparison.Ordinal);
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.Equal(MigrationStatus.Completed, journal.Status);
        // Nothing else is connected to the new source: the applications read beside the checks list none of the tool's sessions.
        var applications = journal.Step("check").Tables.Single(t => t.Title == "Applications connected to the source");
        Assert.Empty(applications.Rows);
        Secrets.AssertAbsent(await File.ReadAllTextAsync(Path.Combine(journal.Folder, MigrationJournal.FileName)), "the journal");
        Assert.False(File.Exists(Path.Combine(journal.Folder, "archive.dump")));
    }

    /// <summary>Where a migration is killed, in the order a run meets them.</summary>
    private static readonly string[] KillPoints =
    [
        "kill:check:end", "kill:read-only source:end", "kill:dump:start", "kill:dump:progress", "kill:dump:end",
        "kill:restore:progress", "kill:restore:end", "kill:settings:end", "kill:verify:start", "kill:verify:end", "kill:cutover summary:end",
        "kill:cleanup:start",
    ];

    /// <summary>
    /// Killed (SIGKILL) at each point in turn: the first run at the first, each resume at the next, one migration
    /// resumed twelve times, the last resume unhindered. Each resume starts where the run before it was killed and
    /// goes on to the next point, so every point is resumed from; the end is compared without our code.
    /// </summary>
    [Fact]
    public async Task Should_Finish_Verified_When_Killed_At_Each_Step_In_Turn_And_Resumed_Each_Time()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("resumed");
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source"), new Dictionary<string, string> { [FaultInjection.Variable] = KillPoints[0] });
        Assert.True(killed.ExitCode == 137, $"{KillPoints[0]}: {killed}");
        var id = MigrationJournal.All(dir.Path).Single().Id;
        string[] resume = ["migrate", "--resume", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path];
        foreach (var fault in KillPoints.Skip(1))
        {
            var again = await CliRunner.RunAsync(resume, new Dictionary<string, string> { [FaultInjection.Variable] = fault });
            Assert.True(again.ExitCode == 137, $"resumed to be killed at {fault}: {again}");
            Assert.Contains("done in a previous run", again.Stderr, StringComparison.Ordinal);
        }

        var resumed = await CliRunner.RunAsync(resume, null);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("done in a previous run", resumed.Stderr, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.False(await ReadOnlyAsync(source));
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.Load(dir.Path, id).Status);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Migrate_Directly_And_Finish_Verified_When_Killed_During_The_Copy()
    {
        var source = await servers.Source.CreateDatabaseAsync("direct");
        await SampleDatabase.LoadAsync(servers.Source.Cluster, source, CancellationToken.None);
        var target = await servers.Target.CreateDatabaseAsync("direct_target");
        using var dir = new TempDir();

        // Read-only: the resumed copy keeps what was committed and reads the rest from a source nobody wrote since.
        var killed = await CliRunner.RunAsync(Args(source, target, dir.Path, "--direct", "--read-only-source"), new Dictionary<string, string> { [FaultInjection.Variable] = "kill:copy:progress" });
        var id = MigrationJournal.All(dir.Path).Single().Id;
        // The journal's options win: one given again is refused rather than silently ignored.
        var changed = await CliRunner.RunAsync(["migrate", "--resume", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path, "--jobs", "4", "--lock-timeout", "5"], null);
        var resumed = await CliRunner.RunAsync(["migrate", "--resume", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path], null);

        Assert.Equal(2, changed.ExitCode);
        Assert.Contains("leave out --jobs, --lock-timeout", changed.Output, StringComparison.Ordinal);
        Assert.Equal(137, killed.ExitCode);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var journal = MigrationJournal.Load(dir.Path, id);
        Assert.Equal(StepStatus.Done, journal.Step("copy").Status);
        Assert.Equal(StepStatus.Skipped, journal.Step("dump").Status);
        Assert.Equal(StepStatus.Done, journal.Step("verify").Status);
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Start_The_Direct_Copy_Beside_The_Checks_And_List_None_Of_Its_Sessions_As_Applications()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("beside");
        using var dir = new TempDir();
        // Watched from outside, from another database (a session in the source's own would be an application to repoint):
        // when the copy's sessions on the source first appear, under the migration's name.
        DateTimeOffset? firstSeen = null;
        using var done = new CancellationTokenSource();
        var watching = Task.Run(async () =>
        {
            await using var watch = new NpgsqlConnection(servers.Source.Cluster.Superuser("postgres").ToNpgsqlConnectionString());
            await watch.OpenAsync();
            await Eventually.Holds(
                async () =>
                {
                    if (await Db.ScalarAsync<long>(watch, $"SELECT count(*) FROM pg_stat_activity WHERE datname = {Db.Literal(source.Database)} AND application_name LIKE 'pgrelocate migration % copy'", CancellationToken.None) > 0)
                    {
                        firstSeen = DateTimeOffset.UtcNow;
                    }

                    return firstSeen is not null || done.IsCancellationRequested;
                },
                TimeSpan.FromMinutes(5),
                TimeSpan.FromMilliseconds(10));
        });

        var result = await CliRunner.RunAsync(Args(source, target, dir.Path, "--direct"), null);
        await done.CancelAsync();
        await watching;

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.True(firstSeen is { } seen && seen < journal.Step("check").FinishedAt, $"the copy's sessions were first seen at {firstSeen:O}, the checks ended at {journal.Step("check").FinishedAt:O}");
        // Its snapshot's session was open while the checks listed the source's sessions: neither list names it.
        Assert.Empty(journal.Step("check").Tables.Single(t => t.Title == "Applications connected to the source").Rows);
        Assert.DoesNotContain(journal.Step("check").Tables.Single(t => t.Title == "Preflight checks").Rows, r => r[0] == "connected applications" && r[1] != "ok");
    }

    /// <summary>
    /// A login role allowed three connections to the source: enough for the copy alone (its snapshot, pg_dump and a
    /// reader), not for the copy's start and the checks at once. Whichever of the two is refused a connection, the
    /// other finishes, and the refused one runs again alone: the migration goes through as it would one after the other.
    /// </summary>
    [Fact]
    public async Task Should_Migrate_Directly_When_The_Source_Role_Has_Connections_For_The_Copy_Alone()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("few_slots");
        using var dir = new TempDir();
        var result = await servers.Source.WithConnectionLimitAsync(source.User, 3, () => CliRunner.RunAsync(Args(source, target, dir.Path, "--direct"), null));

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    /// <summary>
    /// A target whose login role allows fewer connections than the copy opens at once is refused by the checks, before
    /// anything is copied, naming what needs them and the --jobs that fits (the copy's own check, before it empties the
    /// target, said so only then, and the checks counted one connection).
    /// </summary>
    [Fact]
    public async Task Should_Refuse_In_The_Checks_A_Target_Role_Allowed_Fewer_Connections_Than_The_Copy_Opens()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("few_target_slots");
        using var dir = new TempDir();
        var result = await servers.Target.WithConnectionLimitAsync(target.User, 6, () => CliRunner.RunAsync(Args(source, target, dir.Path, "--direct", "--jobs", "4", "--no-estimate"), null));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("8 are needed (4 COPY streams and 4 index builds)", result.Output, StringComparison.Ordinal);
        Assert.Matches(@"or run with --jobs [12] \([24] connections\)", result.Output);
        Assert.Equal(StepStatus.Failed, MigrationJournal.All(dir.Path).Single().Step("check").Status);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"));
    }

    [Fact]
    public async Task Should_Fail_With_Exit_1_Lift_Read_Only_And_Say_Where_When_The_Restore_Fails()
    {
        var source = await servers.SmallSourceAsync();
        // Only a superuser may create an event trigger, and nothing can tell before the restore runs into it
        // (an extension the target cannot create is refused up front instead).
        await servers.Source.ExecuteAsync(source.Database, """
            CREATE FUNCTION noop_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
            CREATE EVENT TRIGGER audit_ddl ON ddl_command_end EXECUTE FUNCTION noop_ddl();
            """);
        var target = await servers.Target.CreateDatabaseAsync("failing");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source", "--report", dir.File("report.md")), null);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("restore failed", result.Output, StringComparison.Ordinal);
        Assert.False(await ReadOnlyAsync(source));
        var report = await File.ReadAllTextAsync(dir.File("report.md"));
        Assert.Contains("| restore | Failed |", report, StringComparison.Ordinal);
        Assert.Contains("audit_ddl", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_End_The_Source_Sessions_When_Making_It_Read_Only_And_Not_Blame_Other_Roles()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("ended");
        using var dir = new TempDir();
        await using var app = new Npgsql.NpgsqlConnection(source.ToNpgsqlConnectionString() + ";Application Name=shop-web;Pooling=false");
        await app.OpenAsync();

        var result = await CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source"), null);

        Assert.True(result.ExitCode == 0, result.ToString());
        // The step's line in the journal's log (its summary is rewritten once the source is writable again).
        var summary = MigrationJournal.All(dir.Path).Single().Log.Single(l => l.Contains("is read-only;", StringComparison.Ordinal));
        Assert.Matches(@"\d+ sessions? ended", summary);
        // A session asked to end is still closing for a moment: it is not one that "could not be ended".
        Assert.DoesNotContain("could not be ended", summary, StringComparison.Ordinal);
        await using var probe = new Npgsql.NpgsqlCommand("SELECT 1", app);
        await Assert.ThrowsAnyAsync<Exception>(() => probe.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Should_End_No_Session_When_The_Source_Cannot_Be_Made_Read_Only()
    {
        // The ALTER DATABASE and the sessions' end go in one round trip: a role that may not alter the database (not its
        // owner) is refused, and its own application sessions, which it could end, are left as they were.
        var source = await servers.SmallSourceAsync();
        var role = "outsider_" + Guid.NewGuid().ToString("N")[..8];
        await servers.Source.Cluster.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD 'outsider-pw'; GRANT CONNECT ON DATABASE {Db.Ident(source.Database)} TO {role}");
        var asOutsider = new Npgsql.NpgsqlConnectionStringBuilder(source.ToNpgsqlConnectionString()) { Username = role, Password = "outsider-pw", Pooling = false };
        await using var app = new Npgsql.NpgsqlConnection(asOutsider.ConnectionString + ";Application Name=shop-web");
        await app.OpenAsync();
        await using var step = new Npgsql.NpgsqlConnection(asOutsider.ConnectionString + ";Application Name=refusing");
        await step.OpenAsync();

        var refused = await Assert.ThrowsAsync<PgRelocate.Errors.PgRelocateException>(() => PgRelocate.Migration.Steps.ReadOnlySourceStep.RefuseWritesAsync(step, source.Database, "20261130-0600-aaaa", "source", CancellationToken.None));

        Assert.StartsWith("Could not make the source read-only: must be owner of database", refused.Message, StringComparison.Ordinal);
        await using (var alive = new Npgsql.NpgsqlCommand("SELECT 1", app))
        {
            Assert.Equal(1, await alive.ExecuteScalarAsync());
        }

        Assert.Equal("off", await PgServer.ScalarAsync<string>(source, "SHOW default_transaction_read_only"));
    }

    [Fact]
    public async Task Should_Leave_The_Migrations_Own_Sessions_Open_When_Making_The_Source_Read_Only()
    {
        // The online follow goes on through the read-only step on sessions named as the migration's own (its watch
        // of the source, the schema pass's, the cutover's); an application's, and another migration's, are ended.
        var source = await servers.SmallSourceAsync();
        async Task<Npgsql.NpgsqlConnection> OpenAsync(string name)
        {
            var conn = new Npgsql.NpgsqlConnection(source.ToNpgsqlConnectionString() + $";Application Name={name};Pooling=false");
            await conn.OpenAsync();
            return conn;
        }

        await using var app = await OpenAsync("shop-web");
        await using var own = await OpenAsync(HeldMigrationLock.ApplicationName("20261128-0800-aaaa", "follow"));
        await using var other = await OpenAsync(HeldMigrationLock.ApplicationName("20261128-0800-bbbb", "follow"));
        await using var lookalike = await OpenAsync(HeldMigrationLock.ApplicationName("20261128-0800-aaaa") + "x");
        await using var step = await OpenAsync("refusing");
        try
        {
            var (ended, closing, refused) = await PgRelocate.Migration.Steps.ReadOnlySourceStep.RefuseWritesAsync(step, source.Database, "20261128-0800-aaaa", "source", CancellationToken.None);

            // Three at least: the harness may keep an idle pooled session of its own in the database.
            Assert.True(ended >= 3 && closing == 0 && refused == 0, $"{ended} ended, {closing} closing, {refused} refused");
            await using (var alive = new Npgsql.NpgsqlCommand("SELECT 1", own))
            {
                Assert.Equal(1, await alive.ExecuteScalarAsync());
            }

            foreach (var gone in new[] { app, other, lookalike })
            {
                await using var probe = new Npgsql.NpgsqlCommand("SELECT 1", gone);
                await Assert.ThrowsAnyAsync<Exception>(() => probe.ExecuteScalarAsync());
            }
        }
        finally
        {
            await PgRelocate.Migration.Steps.ReadOnlySourceStep.LiftAsync(source, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Should_Exit_70_Say_It_Is_A_Bug_And_Keep_Its_Stack_When_A_Step_Throws_Unexpectedly()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("bug");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source"), new Dictionary<string, string> { [FaultInjection.Variable] = "throw:settings:start" });
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var info = await CliRunner.RunAsync("info", id, "--workdir", dir.Path, "-v");

        Assert.True(result.ExitCode == 70, result.ToString());
        Assert.Contains("This is a bug: please report it", result.Output, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException: Fault injected at settings:start.", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output, StringComparison.Ordinal);
        Assert.False(await ReadOnlyAsync(source));
        var journal = MigrationJournal.Load(dir.Path, id);
        Assert.Equal(70, journal.ExitCode);
        Assert.Contains("at PgRelocate.Migration.FaultInjection.At", journal.ErrorDetail, StringComparison.Ordinal);
        Assert.Contains("at PgRelocate.Migration.FaultInjection.At", info.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Stop_Cleanly_When_Canceled_During_The_Dump()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("canceled");
        using var dir = new TempDir();
        // pg_dump waits for this lock, so the migration is certainly inside the dump when it is canceled.
        await using var blocker = new NpgsqlConnection(servers.Source.Cluster.Superuser(source.Database).ToNpgsqlConnectionString());
        await blocker.OpenAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand("LOCK TABLE b IN ACCESS EXCLUSIVE MODE", blocker, tx))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        var run = CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source"), null);
        var id = await WaitForStepAsync(dir.Path, "dump");
        await PgServer.WaitForActivityAsync(servers.Source.Cluster.Superuser("postgres"), $"datname = {Db.Literal(source.Database)} AND wait_event_type = 'Lock'", run, "pg_dump waiting for the lock");
        var cancel = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path);
        var result = await run;
        await tx.RollbackAsync();

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal(130, result.ExitCode);
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.Load(dir.Path, id).Status);
        Assert.False(await ReadOnlyAsync(source));
        Assert.DoesNotContain(Process.GetProcessesByName("pg_dump"), p => Environ(p).Contains(source.Database, StringComparison.Ordinal));
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Stop_Cleanly_When_Canceled_During_The_Restore()
    {
        var source = await servers.Source.CreateDatabaseAsync("slow");
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE big (id bigint PRIMARY KEY, a text, b int);
            INSERT INTO big SELECT g, md5(g::text) || md5((g * 7)::text), g % 1000 FROM generate_series(1, 600000) g;
            CREATE INDEX big_a ON big (a);
            CREATE INDEX big_b ON big (b, a);
            """);
        var target = await servers.Target.CreateDatabaseAsync("canceled_restore");
        using var dir = new TempDir();

        var run = CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source", "--jobs", "1"), null);
        var id = await WaitForStepAsync(dir.Path, "restore");
        var cancel = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path);
        var result = await run;

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal(130, result.ExitCode);
        var journal = MigrationJournal.Load(dir.Path, id);
        Assert.Equal(MigrationStatus.Canceled, journal.Status);
        Assert.Equal(StepStatus.Failed, journal.Step("restore").Status);
        Assert.False(await ReadOnlyAsync(source));
        Assert.DoesNotContain(Process.GetProcessesByName("pg_restore"), p => Environ(p).Contains(target.Database, StringComparison.Ordinal));
        // A server session busy building an index notices its client is gone when it next talks to it.
        long sessions = -1;
        await Eventually.Holds(
            async () => (sessions = await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")) == 0,
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));

        Assert.Equal(0, sessions);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Make_The_Source_Read_Only_Again_When_Resuming_After_A_Cancel()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("honest");
        using var dir = new TempDir();
        string id;
        await using (var blocker = await LockTableAsync(source, "b"))
        {
            var run = CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source"), null);
            id = await WaitForStepAsync(dir.Path, "dump");
            var cancel = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path);
            Assert.True(cancel.ExitCode == 0, cancel.ToString());
            Assert.Equal(130, (await run).ExitCode);
        }

        Assert.False(await ReadOnlyAsync(source));
        Assert.Equal(StepStatus.Undone, MigrationJournal.Load(dir.Path, id).Step("read-only source").Status);
        await PgServer.ExecuteAsync(source, "INSERT INTO c SELECT g, g FROM generate_series(1, 25) g");

        // Stopped at the start of the dump of the resumed run: by then the source must be read-only again.
        string[] resume = ["migrate", "--resume", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path];
        var killed = await CliRunner.RunAsync(resume, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:dump:start" });
        var readOnlyDuringResume = await ReadOnlyAsync(source);
        var finished = await CliRunner.RunAsync(resume, null);

        Assert.Equal(137, killed.ExitCode);
        Assert.Contains("read-only source: undone when the previous run stopped; doing it again.", killed.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("read-only source: done in a previous run", killed.Stderr, StringComparison.Ordinal);
        Assert.True(readOnlyDuringResume, "the resumed run made the source read-only again");
        Assert.True(finished.ExitCode == 0, finished.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.False(await ReadOnlyAsync(source));
    }

    [Fact]
    public async Task Should_Refuse_A_Second_Migration_Into_The_Same_Target_Naming_The_First()
    {
        var source = await servers.SmallSourceAsync();
        var other = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("contended");
        using var dir = new TempDir();
        using var otherDir = new TempDir();
        await using var blocker = await LockTableAsync(source, "b");
        var first = CliRunner.RunAsync(Args(source, target, dir.Path), null);
        var id = await WaitForStepAsync(dir.Path, "dump");

        var second = await CliRunner.RunAsync(Args(other, target, otherDir.Path));
        var holders = await PgServer.ScalarAsync<string>(target, "SELECT string_agg(application_name, ',') FROM pg_stat_activity WHERE application_name LIKE 'pgrelocate migration %'");
        var cancel = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path);
        await first;
        await blocker.DisposeAsync();
        var resumed = await CliRunner.RunAsync(["migrate", "--resume", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path], null);

        Assert.Equal(2, second.ExitCode);
        Assert.Contains($"Migration {id} is already running on the target", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", second.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetDirectories(otherDir.Path));
        Assert.Equal($"pgrelocate migration {id}", holders);
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    /// <summary>Holds an exclusive lock on a table of the source, so pg_dump waits for it: the migration is certainly inside the dump.</summary>
    private async Task<LockedTable> LockTableAsync(PgConnectionInfo source, string table)
    {
        var conn = new NpgsqlConnection(servers.Source.Cluster.Superuser(source.Database).ToNpgsqlConnectionString());
        await conn.OpenAsync();
        var tx = await conn.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand($"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE", conn, tx))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        return new LockedTable(conn, tx);
    }

    private sealed class LockedTable(NpgsqlConnection conn, NpgsqlTransaction tx) : IAsyncDisposable
    {
        private bool _disposed;

        public async ValueTask DisposeAsync()
        {
            if (!_disposed)
            {
                _disposed = true;
                await tx.RollbackAsync();
                await tx.DisposeAsync();
                await conn.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Should_Lift_A_Read_Only_Source_When_Canceling_A_Killed_Migration()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("abandoned");
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(Args(source, target, dir.Path, "--read-only-source"), new Dictionary<string, string> { [FaultInjection.Variable] = "kill:dump:start" });
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var readOnlyAfterKill = await ReadOnlyAsync(source);
        var withoutSource = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path);
        var withSource = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path, "--source", CliRunner.Url(source));

        Assert.Equal(137, killed.ExitCode);
        Assert.True(readOnlyAfterKill);
        Assert.True(withoutSource.ExitCode == 0, withoutSource.ToString());
        Assert.Contains("--source", withoutSource.Stdout, StringComparison.Ordinal);
        Assert.True(withSource.ExitCode == 0, withSource.ToString());
        Assert.Contains("writable again", withSource.Stdout, StringComparison.Ordinal);
        Assert.False(await ReadOnlyAsync(source));
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.Load(dir.Path, id).Status);
    }

    [Fact]
    public async Task Should_Keep_Running_When_Detached_From_The_Terminal_That_Started_It()
    {
        var source = await servers.SmallSourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("detached");
        using var dir = new TempDir();

        var start = await CliRunner.RunAsync(Args(source, target, dir.Path, "--detach"), null);
        var id = MigrationJournal.All(dir.Path).Single().Id;
        // The migration runs in a session of its own: the terminal that started it (and its hang-up) cannot reach it.
        int? pid = null;
        await Eventually.Holds(() => (pid = MigrationJournal.Load(dir.Path, id).Pid) is not null, TimeSpan.FromSeconds(10));

        Assert.NotNull(pid);
        Assert.NotEqual(SessionOf(Environment.ProcessId), SessionOf(pid.Value));
        var status = await CliRunner.RunAsync(["status", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(3));
        var info = await CliRunner.RunAsync("info", id, "--workdir", dir.Path);
        var list = await CliRunner.RunAsync("list", "--workdir", dir.Path);

        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("Completed", info.Stdout, StringComparison.Ordinal);
        Assert.Contains(id, list.Stdout, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Secrets.AssertAbsent(await File.ReadAllTextAsync(Path.Combine(dir.Path, id, "output.log")), "the detached output");
    }

    [Fact]
    public async Task Should_Refuse_Without_Confirm_Or_With_The_Source_As_Target()
    {
        var source = await servers.SmallSourceAsync();
        using var dir = new TempDir();

        var noConfirm = await CliRunner.RunAsync("migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(source), "--workdir", dir.Path);
        var same = await CliRunner.RunAsync(Args(source, source, dir.Path));

        Assert.Equal(2, noConfirm.ExitCode);
        Assert.Contains("--confirm", noConfirm.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, same.ExitCode);
        Assert.Contains("same database", same.Stderr, StringComparison.Ordinal);
    }

    private static async Task<string> WaitForStepAsync(string workDir, string step)
    {
        MigrationJournal? journal = null;
        await Eventually.True(
            () => (journal = MigrationJournal.All(workDir).SingleOrDefault())?.Steps.FirstOrDefault(s => s.Name == step)?.Status == StepStatus.Running,
            TimeSpan.FromMinutes(1), $"The migration never reached step {step}.");
        return journal!.Id;
    }

    /// <summary>The session id of a process: the sixth field of /proc/PID/stat, after the command in parentheses.</summary>
    private static string SessionOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3];
    }

    private static async Task<bool> ReadOnlyAsync(PgConnectionInfo db) =>
        await PgServer.ScalarAsync<string>(db, "SHOW default_transaction_read_only") == "on";

    /// <summary>A process's environment as /proc shows it; empty once it has ended (another test's pg_restore may end between listing and reading).</summary>
    private static string Environ(Process process)
    {
        try
        {
            return File.ReadAllText($"/proc/{process.Id}/environ");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}

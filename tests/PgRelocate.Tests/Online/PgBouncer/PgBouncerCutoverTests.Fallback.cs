using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Online.PgBouncer;

/// <summary>
/// `migrate --online --fallback --pgbouncer`: the application writes through PgBouncer all along. PgBouncer resumes it
/// at the target only once the way back's capture is there, so its first writes after the switch reach the old source;
/// `rollback` pauses PgBouncer, and once the old source holds exactly the target's rows puts the entry back to it and
/// resumes; `finish` leaves the entry at the target. Rows and schemas are compared with plain SQL, outside the tool's code.
/// </summary>
public partial class PgBouncerCutoverTests
{
    private const string WayBackSchema = """
        CREATE SCHEMA app;
        CREATE TABLE app.items (id serial PRIMARY KEY, v text);
        CREATE TABLE app.nokey (a int, b text);
        ALTER TABLE app.nokey REPLICA IDENTITY FULL;
        INSERT INTO app.items (v) SELECT 'v' || g FROM generate_series(1, 100) g;
        INSERT INTO app.nokey VALUES (1, 'a'), (1, 'a');
        """;

    private static readonly string[] WayBackTables = ["app.items", "app.nokey"];

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Roll_Back_Behind_PgBouncer_With_The_Applications_First_Writes_After_The_Switch_On_The_Old_Source()
    {
        var source = await servers.SourceAsync(WayBackSchema);
        var target = await servers.Target.CreateDatabaseAsync("back_behind");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();

        // The application writes through PgBouncer from before the migration to after the switch, one row a write.
        var writer = ApplicationWriter.Start(bouncer.App, "INSERT INTO app.items (v) VALUES ('through pgbouncer')");
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.items") > 110, TimeSpan.FromMinutes(1), "The application wrote nothing through PgBouncer.");
        var (run, id) = await SwitchBehindAsync(source, target, bouncer, dir, null);

        // The source is read-only from the switch on: what the application writes next goes to the target, through the entry.
        var atSwitch = await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.items");
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM app.items") > atSwitch + 50, TimeSpan.FromMinutes(1), "The application's writes after the switch did not reach the target.");
        await writer.StopAsync();
        Assert.Equal(100 + writer.Writes, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM app.items"));
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE app.nokey SET b = 'b' WHERE ctid = (SELECT ctid FROM app.nokey LIMIT 1); INSERT INTO app.nokey VALUES (2, NULL)");

        var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(3));
        Assert.True(rollback.ExitCode == 0, rollback + "\n" + string.Join("\n", run.Journal().Log));
        Assert.Contains($"DATABASE_URL={run.Journal().Source}", rollback.Stdout, StringComparison.Ordinal);
        Assert.Contains("its entry 'app' points at the old source again", rollback.Stdout, StringComparison.Ordinal);
        Assert.True((await run.Result).ExitCode == 0, (await run.Result).ToString());
        await AssertRolledBackBehindAsync(source, target, bouncer, run);
        Assert.DoesNotContain(bouncer.Admin.Get("password")!, string.Join('\n', run.Journal().Log) + (await run.Result).Output + rollback.Output + File.ReadAllText(Path.Combine(run.Journal().Folder, MigrationJournal.FileName)), StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Capture_The_Writes_PgBouncer_Held_When_Killed_Between_The_Capture_And_Its_Resume_Then_Resumed()
    {
        var source = await servers.SourceAsync(WayBackSchema);
        var target = await servers.Target.CreateDatabaseAsync("back_killed_switch");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:way back capture:captured" }, [.. BehindOptions(bouncer)]);
        var id = await run.WaitForFollowAsync();
        CutoverRequest.Write(run.Journal().Folder);
        Assert.NotEqual(0, (await run.Result).ExitCode);
        Assert.True(await bouncer.PausedAsync(), "the run was killed after PgBouncer was resumed");
        Assert.Contains($"port={source.Port}", bouncer.EntryLine(), StringComparison.Ordinal);

        // The application's write waits at PgBouncer; the resumed run repoints the entry and resumes it at the target.
        // (Its login waits there too: longer than the driver's default 15 s to connect, while the resumed run starts.)
        var held = Task.Run(async () =>
        {
            await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(bouncer.App.ToNpgsqlConnectionString()) { Timeout = 120, CommandTimeout = 120 }.ConnectionString);
            await conn.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO app.items (v) VALUES ('held at pgbouncer')", conn);
            await insert.ExecuteNonQueryAsync();
        });
        var resumed = OnlineRun.Resume(source, target, dir.Path, id, "--pgbouncer", CliRunner.Url(bouncer.Admin));
        await held.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM app.items WHERE v = 'held at pgbouncer'"));
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);

        var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(3));
        Assert.True(rollback.ExitCode == 0, rollback + "\n" + string.Join("\n", run.Journal().Log));
        Assert.True((await resumed.Result).ExitCode == 0, (await resumed.Result).ToString());
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.items WHERE v = 'held at pgbouncer'"));
        await AssertRolledBackBehindAsync(source, target, bouncer, run);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Finish_A_Rollback_Behind_PgBouncer_Killed_While_It_Was_Paused_When_Resumed()
    {
        var source = await servers.SourceAsync(WayBackSchema);
        var target = await servers.Target.CreateDatabaseAsync("back_killed_rollback");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var (run, id) = await SwitchBehindAsync(source, target, bouncer, dir, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:way back:capture removed" });
        await PgServer.ExecuteAsync(bouncer.App, "INSERT INTO app.items (v) SELECT 'after the switch' FROM generate_series(1, 20); DELETE FROM app.items WHERE id <= 10");

        // Killed with the target's last changes applied to the old source and PgBouncer paused.
        var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(3));
        Assert.True(rollback.ExitCode == 1, rollback.ToString());
        Assert.Contains("the request is kept: resume it with", rollback.Output, StringComparison.Ordinal);
        Assert.NotEqual(0, (await run.Result).ExitCode);
        Assert.True(await bouncer.PausedAsync(), "the run was killed before its rollback paused PgBouncer");

        var resumed = OnlineRun.Resume(source, target, dir.Path, id, "--pgbouncer", CliRunner.Url(bouncer.Admin));
        Assert.True((await resumed.Result).ExitCode == 0, (await resumed.Result).ToString());
        Assert.Contains("points at the old source again", run.Journal().Step("way back").Summary, StringComparison.Ordinal);
        await AssertRolledBackBehindAsync(source, target, bouncer, run);
    }

    [Fact]
    public async Task Should_Finish_Behind_PgBouncer_Leaving_Its_Entry_At_The_Target()
    {
        var source = await servers.SourceAsync(WayBackSchema);
        var target = await servers.Target.CreateDatabaseAsync("finish_behind");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var (run, id) = await SwitchBehindAsync(source, target, bouncer, dir, null);
        await PgServer.ExecuteAsync(bouncer.App, "INSERT INTO app.items (v) VALUES ('after the switch')");
        // Captured: the way back carries it to the old source.
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.items WHERE v = 'after the switch'") == 1, TimeSpan.FromMinutes(1), "The way back did not carry the application's write after the switch.");

        var finish = await CliRunner.RunAsync(["finish", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(3));
        Assert.True(finish.ExitCode == 0, finish.ToString());
        Assert.Contains($"DATABASE_URL={run.Journal().Target}", finish.Stdout, StringComparison.Ordinal);
        Assert.Contains("stays at the target", finish.Stdout, StringComparison.Ordinal);
        Assert.True((await run.Result).ExitCode == 0, (await run.Result).ToString());

        await AssertNoWayBackAsync(source, target);
        Assert.False(await bouncer.PausedAsync());
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
        await PgServer.ExecuteAsync(bouncer.App, "INSERT INTO app.items (v) VALUES ('after the finish')");
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM app.items WHERE v = 'after the finish'"));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => PgServer.ExecuteAsync(source, "INSERT INTO app.items (v) VALUES ('refused')"));
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
    }

    private static string[] BehindOptions(PgBouncerServer bouncer) =>
        ["--fallback", "--pgbouncer", CliRunner.Url(bouncer.Admin), "--pgbouncer-ini", bouncer.IniFile, "--pgbouncer-database", "app"];

    /// <summary>Migrates with --fallback behind <paramref name="bouncer"/>, and switches: the way back follows, the entry points at the target.</summary>
    private static async Task<(OnlineRun Run, string Id)> SwitchBehindAsync(PgConnectionInfo source, PgConnectionInfo target, PgBouncerServer bouncer, TempDir dir, Dictionary<string, string>? environment)
    {
        var run = OnlineRun.Start(source, target, dir.Path, environment, [.. BehindOptions(bouncer)]);
        var id = await run.WaitForFollowAsync();
        var cutover = await CliRunner.RunAsync(["cutover", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(2));
        Assert.True(cutover.ExitCode == 0, cutover + "\n" + string.Join("\n", run.Journal().Log));
        Assert.Contains("A way back is open", cutover.Stdout, StringComparison.Ordinal);
        Assert.Contains("waited", cutover.Stdout, StringComparison.Ordinal);
        Assert.False(await bouncer.PausedAsync());
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
        return (run, id);
    }

    /// <summary>
    /// After a rollback behind PgBouncer: the old source holds exactly the target's rows and schema; PgBouncer is
    /// resumed with its entry at the old source, which takes the application's writes; the target refuses writes; nothing
    /// of the way back is left on either side.
    /// </summary>
    private static async Task AssertRolledBackBehindAsync(PgConnectionInfo source, PgConnectionInfo target, PgBouncerServer bouncer, OnlineRun run)
    {
        try
        {
            await DatabaseSnapshot.AssertIdenticalAsync(target, source, WayBackTables);
        }
        catch (Xunit.Sdk.XunitException e)
        {
            // CI saw the application's last writes missing on the old source once: the journal says what the rollback applied.
            throw new Xunit.Sdk.XunitException($"{e.Message}\nThe migration's log:\n{string.Join("\n", run.Journal().Log)}");
        }

        await AssertNoWayBackAsync(source, target);
        Assert.False(await bouncer.PausedAsync());
        var entry = bouncer.EntryLine();
        Assert.Contains($"port={source.Port}", entry, StringComparison.Ordinal);
        Assert.Contains($"dbname={source.Database}", entry, StringComparison.Ordinal);
        await PgServer.ExecuteAsync(bouncer.App, "INSERT INTO app.items (v) VALUES ('after the rollback')");
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.items WHERE v = 'after the rollback'"));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('refused')"));
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
    }

    private static async Task AssertNoWayBackAsync(PgConnectionInfo source, PgConnectionInfo target)
    {
        foreach (var side in new[] { source, target })
        {
            Assert.Null(await PgServer.ScalarAsync<string>(side, "SELECT to_regnamespace('pgrelocate_online')::text"));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(side, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgrelocate%' OR NOT tgisinternal AND tgenabled = 'D'"));
        }
    }
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Online.Steps;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Online.PgBouncer;

/// <summary>
/// `migrate --online --pgbouncer` with a real PgBouncer in front of the source and pgbench writing through it for
/// the whole run: the switch holds the application's transactions at PgBouncer (PAUSE), so none fails and none
/// waits a second; afterwards its entry points at the target, where every committed transaction is. Compared
/// with plain SQL on both servers, outside the tool's code.
/// </summary>
[Heavy(290)]
public partial class PgBouncerCutoverTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    /// <summary>pgbench's history rows, as text in one order: what a digest compares.</summary>
    private const string History = "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(concat_ws(',', tid, bid, aid, delta, mtime), ';' ORDER BY mtime, tid, bid, aid, delta)), '') FROM pgbench_history";

    [Fact]
    public async Task Should_Switch_Behind_PgBouncer_With_No_Failed_Transaction_And_Every_One_On_The_Target()
    {
        var source = await servers.SourceAsync("SELECT 1");
        await Pgbench.InitializeAsync(source);
        var target = await servers.Target.CreateDatabaseAsync("behind");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("bench"));
        // Long enough to outlast the switch with room to spare (alone it comes after about 15 s), and no longer: the test waits for its end.
        var bench = Pgbench.Run(bouncer.App, clients: 8, seconds: 80, rate: 400, dir.File("bench"));
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pgbench_history") > 50, TimeSpan.FromMinutes(1), "pgbench wrote nothing through PgBouncer.");

        var run = OnlineRun.Start(source, target, dir.Path, "--replica-identity-full", "--pgbouncer", CliRunner.Url(bouncer.Admin), "--pgbouncer-ini", bouncer.IniFile, "--pgbouncer-database", "app");
        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();
        var cutover = await run.CutoverAsync(id);
        Assert.False(bench.HasExited, "pgbench ended before the switch did: the test proves nothing (a slow machine: raise its -T).");
        Assert.Contains("waited", cutover.Stdout, StringComparison.Ordinal);

        // The source is read-only from the switch on: what pgbench writes next goes to the target, through the entry.
        var sourceHistory = await PgServer.ScalarAsync<string>(source, History);
        var sourceRows = long.Parse(sourceHistory!.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pgbench_history") > sourceRows + 100, TimeSpan.FromMinutes(1), "pgbench's writes after the switch did not reach the target.");
        var result = await bench.WaitAsync();

        Assert.True(result.ExitCode == 0, "a client aborted: " + result);
        Assert.DoesNotContain("aborted", result.Stderr, StringComparison.Ordinal);
        Assert.True(result.Failed == 0 && result.LoggedFailures == 0, result.ToString());
        Assert.Equal(result.Processed, result.Latencies.Count);
        // How long the slowest transaction took is a measurement, not asserted here (a test asserts no wall-clock time:
        // under the whole suite's load one run took 1.24 s with the application paused 0.85 s, alone well under 1 s).
        // What is asserted: no transaction failed or was refused, and the switch went through the pause.
        var cutoverStep = run.Journal().Step("cutover");
        var phases = cutoverStep.Tables.Single(t => t.Title == "Where the write downtime went").Rows.Select(r => r[0]).ToList();
        Assert.Equal(["source made read-only", "last changes applied", OnlineCutoverStep.FingerprintsPhase, OnlineCutoverStep.RowCountsPhase, "columns' defaults and NOT NULLs", "schema objects"], phases.Take(6));
        Assert.Contains(phases, p => p.StartsWith("PgBouncer", StringComparison.Ordinal));
        // What pgbench wrote while the switch was decided (the schema pass's two pg_dump runs) was applied before the source stopped taking writes.
        var migrated = await run.Result;
        Assert.Matches(@"Before the switch, the target is \d+\.\d\ds behind the source\.", migrated.Output);

        // Every transaction pgbench committed is on the target: those before the switch exactly as the source has them.
        Assert.Equal(result.Processed, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pgbench_history"));
        var lastOnSource = await PgServer.ScalarAsync<string>(source, "SELECT max(mtime)::text FROM pgbench_history");
        Assert.Equal(sourceHistory, await PgServer.ScalarAsync<string>(target, History + $" WHERE mtime <= '{lastOnSource}'"));
        Assert.Equal(await PgServer.ScalarAsync<long>(target, "SELECT sum(delta) FROM pgbench_history"), await PgServer.ScalarAsync<long>(target, "SELECT sum(abalance) FROM pgbench_accounts"));
        Assert.Equal(await PgServer.ScalarAsync<long>(target, "SELECT sum(delta) FROM pgbench_history"), await PgServer.ScalarAsync<long>(target, "SELECT sum(bbalance) FROM pgbench_branches"));

        // The entry points at the target; the file kept its mode, the previous one is beside it.
        var entry = bouncer.EntryLine();
        Assert.Contains($"port={target.Port}", entry, StringComparison.Ordinal);
        Assert.Contains($"dbname={target.Database}", entry, StringComparison.Ordinal);
        Assert.Contains($"user={target.User}", entry, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(bouncer.IniFile));
        Assert.Contains($"port={source.Port}", File.ReadAllText($"{bouncer.IniFile}.before-{id}"), StringComparison.Ordinal);
        Assert.False(await bouncer.PausedAsync());
        var pause = run.Journal().Output(OnlineCutoverStep.StepName, OnlineCutoverStep.ApplicationPause)!.Value.TotalSeconds;
        Assert.True(pause > 0, $"the application's pause was not recorded: {pause}");
        Assert.DoesNotContain(bouncer.Admin.Get("password")!, string.Join('\n', run.Journal().Log) + (await run.Result).Output + cutover.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Give_Up_When_A_Transaction_Holds_The_Pause_Past_Max_Pause_Then_Switch_Once_It_Ends()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g;");
        var target = await servers.Target.CreateDatabaseAsync("held");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--pgbouncer", CliRunner.Url(bouncer.Admin), "--pgbouncer-ini", bouncer.IniFile, "--pgbouncer-database", "app", "--max-pause", "1s");
        var id = await run.WaitForFollowAsync();
        // The verification while following first: its snapshot would wait for the transaction held below too.
        await run.WaitForVerifiedAsync();

        // The application holds a transaction open through PgBouncer: PAUSE waits for it.
        await using var held = new NpgsqlConnection(bouncer.App.ToNpgsqlConnectionString());
        await held.OpenAsync();
        await using var tx = await held.BeginTransactionAsync();
        await using (var update = new NpgsqlCommand("UPDATE t SET v = v + 1 WHERE id = 1", held, tx))
        {
            await update.ExecuteNonQueryAsync();
        }

        var refused = await CliRunner.RunAsync(["cutover", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(2));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--max-pause", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("resumed at the source", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(MigrationStatus.Running, run.Journal().Status);
        Assert.False(await bouncer.PausedAsync());

        // Resumed: another client's transaction goes through at once, on the source.
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 10 WHERE id = 2");
        await tx.CommitAsync();
        await run.CutoverAsync(id);
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
        Assert.Equal(11L, await PgServer.ScalarAsync<long>(target, "SELECT sum(v) FROM t"));
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 100 WHERE id = 3");
        Assert.Equal(111L, await PgServer.ScalarAsync<long>(target, "SELECT sum(v) FROM t"));
    }

    [Fact]
    public async Task Should_Switch_Behind_The_PgBouncer_Cutover_Names_For_A_Migration_Started_Without_It()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g;");
        var target = await servers.Target.CreateDatabaseAsync("later");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = 1 WHERE id = 1");

        var cutover = await CliRunner.RunAsync(["cutover", id, "--workdir", dir.Path, "--pgbouncer", CliRunner.Url(bouncer.Admin), "--pgbouncer-ini", bouncer.IniFile, "--pgbouncer-database", "app"], null, TimeSpan.FromMinutes(2));
        Assert.True(cutover.ExitCode == 0, cutover.ToString());
        Assert.True((await run.Result).ExitCode == 0, (await run.Result).ToString());
        Assert.Contains("waited", cutover.Stdout, StringComparison.Ordinal);
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run.Journal().Folder, CutoverRequest.PgBouncerFileName)));
        Assert.DoesNotContain(bouncer.Admin.Get("password")!, File.ReadAllText(Path.Combine(run.Journal().Folder, MigrationJournal.FileName)), StringComparison.Ordinal);
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = 2 WHERE id = 2");
        Assert.Equal(3L, await PgServer.ScalarAsync<long>(target, "SELECT sum(v) FROM t"));
    }

    [Fact]
    public async Task Should_Resume_PgBouncer_At_The_Source_When_Cancel_Follows_A_Kill_While_Paused()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g;");
        var target = await servers.Target.CreateDatabaseAsync("killed");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:read-only source:start" }, "--pgbouncer", CliRunner.Url(bouncer.Admin), "--pgbouncer-ini", bouncer.IniFile, "--pgbouncer-database", "app");
        var id = await run.WaitForFollowAsync();
        CutoverRequest.Write(run.Journal().Folder);
        Assert.NotEqual(0, (await run.Result).ExitCode);
        Assert.True(await bouncer.PausedAsync(), "the run was killed before it paused PgBouncer");

        var cancel = await CliRunner.RunAsync(["cancel", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--pgbouncer", CliRunner.Url(bouncer.Admin), "--workdir", dir.Path]);
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains("resumed at the source", cancel.Stdout, StringComparison.Ordinal);
        Assert.False(await bouncer.PausedAsync());
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = 1 WHERE id = 1");
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(source, "SELECT sum(v) FROM t"));
        Assert.Contains($"port={source.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Refuse_Session_Pooling_Before_Anything_Changes()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY);");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app", poolMode: "session");
        await AssertRefusedAsync(source, bouncer, bouncer.Admin, "pools by session");
    }

    [Fact]
    public async Task Should_Refuse_A_Wrong_Admin_Password_And_A_Login_That_Is_No_Admin()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY);");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        await AssertRefusedAsync(source, bouncer, bouncer.Admin.WithCredentials(bouncer.Admin.User, "not-the-password"), "refused the login");
        await AssertRefusedAsync(source, bouncer, bouncer.Stats, "is not an admin");
    }

    [Fact]
    public async Task Should_Refuse_An_Entry_That_Points_Elsewhere()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY);");
        var elsewhere = await servers.Source.CreateDatabaseAsync("elsewhere");
        await using var bouncer = await PgBouncerServer.StartAsync(elsewhere, "app");
        await AssertRefusedAsync(source, bouncer, bouncer.Admin, "not at the source");
    }

    /// <summary>migrate exits 2 with <paramref name="expected"/> in its message, having written nothing: no journal, no slot, the target's marker as it was.</summary>
    private async Task AssertRefusedAsync(PgConnectionInfo source, PgBouncerServer bouncer, PgConnectionInfo admin, string expected)
    {
        var target = await MarkerTable.TargetWithRowsAsync(servers.Target, "refused");
        var entryBefore = bouncer.EntryLine();
        using var dir = new TempDir();
        var result = await CliRunner.RunAsync(
            ["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--online",
             "--pgbouncer", CliRunner.Url(admin), "--pgbouncer-ini", bouncer.IniFile, "--pgbouncer-database", "app"],
            null,
            TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(admin.Get("password")!, result.Output, StringComparison.Ordinal);
        Assert.Empty(MigrationJournal.All(dir.Path));
        await MarkerTable.AssertUntouchedAsync(target);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"));
        Assert.Equal(entryBefore, bouncer.EntryLine());
        Assert.False(await bouncer.PausedAsync());
    }
}

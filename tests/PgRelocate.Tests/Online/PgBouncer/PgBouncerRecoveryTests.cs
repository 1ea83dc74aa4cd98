using Npgsql;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Online.PgBouncer;

/// <summary>
/// The switch behind PgBouncer when something goes wrong around it: the tool killed while PgBouncer holds the
/// application paused and resumed with --resume, a RELOAD PgBouncer cannot act on, a PAUSE refused once by an
/// automatic cutover that then tries again by itself, and statement pooling. What PgBouncer does is read on its
/// own console (SHOW DATABASES through psql), the data with plain SQL on both servers.
/// </summary>
[Heavy(170)]
public class PgBouncerRecoveryTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Table = "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g;";

    [Theory]
    [InlineData("read-only source:start")]
    [InlineData("cutover:start")]
    public async Task Should_Switch_And_Resume_PgBouncer_When_Migrate_Resume_Follows_A_Kill_While_Paused(string point)
    {
        var source = await servers.SourceAsync(Table);
        var target = await servers.Target.CreateDatabaseAsync("resumed" + point.Length);
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = $"kill:{point}" }, Behind(bouncer));
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 1 WHERE id = 1");
        CutoverRequest.Write(run.Journal().Folder);
        Assert.NotEqual(0, (await run.Result).ExitCode);
        Assert.True(await bouncer.PausedAsync(), "the run was killed before it paused PgBouncer");

        // The application's next transaction waits at PgBouncer while nobody runs the tool.
        var waiting = PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 10 WHERE id = 2");

        var resumed = await CliRunner.RunAsync(["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path, "--resume", id, "--pgbouncer", CliRunner.Url(bouncer.Admin)], null, TimeSpan.FromMinutes(4));
        Assert.True(resumed.ExitCode == 0, resumed + "\n" + bouncer.Tail());
        Assert.Equal(MigrationStatus.Completed, run.Journal().Status);
        Assert.False(await bouncer.PausedAsync());
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
        await waiting.WaitAsync(TimeSpan.FromMinutes(1));

        // Every write is on the target: the one before the kill, the one that waited, and one after the switch.
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 100 WHERE id = 3");
        Assert.Equal(111L, await PgServer.ScalarAsync<long>(target, "SELECT sum(v) FROM t"));
        // The one that waited ran once, on the target: the source has only the write before the kill.
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(source, "SELECT sum(v) FROM t"));
        Assert.DoesNotContain(bouncer.Admin.Get("password")!, resumed.Output + File.ReadAllText(Path.Combine(run.Journal().Folder, MigrationJournal.FileName)), StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Resume_At_The_Source_When_PgBouncer_Cannot_Read_Its_File_At_The_Switch()
    {
        Assert.True(Environment.UserName == "root", "this test makes the file unreadable to PgBouncer's account (postgres), which needs the tests to run as root");
        var source = await servers.SourceAsync(Table);
        var target = await servers.Target.CreateDatabaseAsync("unread");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, Behind(bouncer));
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 1 WHERE id = 1");

        // A configuration management run gives the file back to root, mode 0600, while the migration follows:
        // the tool (root) can still rewrite it, PgBouncer's account can no longer read it, and its RELOAD says so
        // only in its log.
        var before = File.ReadAllText(bouncer.IniFile);
        File.SetUnixFileMode(bouncer.IniFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using (var chown = System.Diagnostics.Process.Start("chown", ["root:root", bouncer.IniFile])!)
        {
            await chown.WaitForExitAsync();
        }

        var cutover = await CliRunner.RunAsync(["cutover", id, "--workdir", dir.Path], null, TimeSpan.FromMinutes(2));
        Assert.True(cutover.ExitCode == 1, cutover.ToString());
        Assert.Contains("RELOAD", cutover.Stderr, StringComparison.Ordinal);
        Assert.Contains(bouncer.IniFile, cutover.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(bouncer.Admin.Get("password")!, cutover.Output, StringComparison.Ordinal);

        // The application goes on at the source, which is writable, with the file as it was; nothing was lost.
        Assert.False(await bouncer.PausedAsync());
        Assert.Equal(before, File.ReadAllText(bouncer.IniFile));
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 10 WHERE id = 2");
        Assert.Equal(11L, await PgServer.ScalarAsync<long>(source, "SELECT sum(v) FROM t"));
        Assert.Equal(11L, await PgServer.ScalarAsync<long>(source, "SELECT sum(v) FROM t WHERE id <= 2"));
        Assert.NotEqual(MigrationStatus.Completed, run.Journal().Status);

        // What the message says to do: the file given back to PgBouncer's account, the migration resumed, switched.
        using (var chown = System.Diagnostics.Process.Start("chown", ["postgres:postgres", bouncer.IniFile])!)
        {
            await chown.WaitForExitAsync();
        }

        await run.Result;
        var resumed = OnlineRun.Resume(source, target, dir.Path, id, "--pgbouncer", CliRunner.Url(bouncer.Admin));
        await resumed.WaitForFollowAsync();
        await resumed.CutoverAsync(id);
        Assert.False(await bouncer.PausedAsync());
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 100 WHERE id = 3");
        Assert.Equal(111L, await PgServer.ScalarAsync<long>(target, "SELECT sum(v) FROM t"));
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Switch_By_Itself_30_Seconds_After_An_Automatic_Cutover_Gave_Up_Its_Pause()
    {
        var source = await servers.SourceAsync(Table);
        var target = await servers.Target.CreateDatabaseAsync("again");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");

        // The application holds a transaction open through PgBouncer from before the migration (it has no
        // transaction id yet, so the slot is made): the automatic cutover's PAUSE waits for it past --max-pause.
        await using var held = new NpgsqlConnection(bouncer.App.ToNpgsqlConnectionString());
        await held.OpenAsync();
        await using var tx = await held.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM t", held, tx))
        {
            await read.ExecuteScalarAsync();
        }

        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, [.. Behind(bouncer), "--cutover", "auto", "--max-pause", "1s"]);
        await run.WaitForFollowAsync();
        await Eventually.True(() => Task.FromResult(CutoverRequest.Refusal(run.Journal().Folder)?.Contains("(--max-pause)", StringComparison.Ordinal) == true), OnlineRun.Patience, "the automatic cutover's PAUSE was not given up");
        var refusedAt = DateTimeOffset.UtcNow;
        Assert.False(await bouncer.PausedAsync());
        Assert.False(run.Result.IsCompleted, (run.Result.IsCompleted ? await run.Result : null)?.ToString());

        // Resumed at the source: the held transaction writes there and ends; the next try switches by itself.
        await using (var update = new NpgsqlCommand("UPDATE t SET v = v + 1 WHERE id = 1", held, tx))
        {
            await update.ExecuteNonQueryAsync();
        }

        await tx.CommitAsync();
        var result = await run.Result;
        Assert.True(result.ExitCode == 0, result + "\n" + bouncer.Tail());
        Assert.True(DateTimeOffset.UtcNow - refusedAt > TimeSpan.FromSeconds(20), "the automatic cutover tried again before its 30 seconds");
        Assert.Single(run.Journal().Log, l => l.Contains("(--max-pause)", StringComparison.Ordinal));
        Assert.False(await bouncer.PausedAsync());
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);
        await PgServer.ExecuteAsync(bouncer.App, "UPDATE t SET v = v + 10 WHERE id = 2");
        Assert.Equal(11L, await PgServer.ScalarAsync<long>(target, "SELECT sum(v) FROM t"));
    }

    [Fact]
    public async Task Should_Switch_Behind_Statement_Pooling_With_No_Failed_Statement()
    {
        var source = await servers.SourceAsync(Table);
        var target = await servers.Target.CreateDatabaseAsync("statement");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app", poolMode: "statement");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, Behind(bouncer));
        var id = await run.WaitForFollowAsync();
        await using var writer = ApplicationWriter.Start(bouncer.App, "UPDATE t SET v = v + 1 WHERE id = 1");
        await Eventually.True(() => Task.FromResult(writer.Writes > 20), TimeSpan.FromMinutes(1), "the application wrote nothing through PgBouncer");

        await run.CutoverAsync(id);
        Assert.Contains($"port={target.Port}", bouncer.EntryLine(), StringComparison.Ordinal);

        // The writer stops at its first error: it goes on writing, now on the target, and every write is there.
        var atSwitch = writer.Writes;
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(target, "SELECT v::bigint FROM t WHERE id = 1") > atSwitch + 20, TimeSpan.FromMinutes(1), "the application's writes after the switch did not reach the target");
        await writer.StopAsync();
        Assert.Equal(writer.Writes, await PgServer.ScalarAsync<long>(target, "SELECT v::bigint FROM t WHERE id = 1"));
        Assert.False(await bouncer.PausedAsync());
    }

    private static string[] Behind(PgBouncerServer bouncer) =>
        ["--pgbouncer", CliRunner.Url(bouncer.Admin), "--pgbouncer-ini", bouncer.IniFile, "--pgbouncer-database", "app"];
}

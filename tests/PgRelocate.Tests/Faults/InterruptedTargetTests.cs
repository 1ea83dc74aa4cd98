using System.Text.Json;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Faults;

/// <summary>
/// After Ctrl-C or SIGTERM a command says what its target holds now (not changed, emptied, partly written),
/// and with --json prints one object with <c>"status": "interrupted"</c> and that state; the target is looked
/// at independently of our code.
/// </summary>
[Heavy(100)]
public class InterruptedTargetTests(FaultServers servers) : IClassFixture<FaultServers>
{
    [Theory]
    [InlineData("restore")]
    [InlineData("copy")]
    [InlineData("migrate")]
    public async Task Should_Say_The_Target_Is_Partly_Written_When_Interrupted_While_Writing(string command)
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("partly");
        await servers.Target.ExecuteAsync(target.Database, $"CREATE TABLE keep AS SELECT g AS id FROM generate_series(1, 5) g; ALTER TABLE keep OWNER TO \"{target.User}\"");
        using var work = new TempDir();
        if (command == "restore")
        {
            var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", work.File("a.dump"));
            Assert.True(dump.ExitCode == 0, dump.ToString());
        }

        // The target's sessions go through a proxy that stops carrying what they send after a megabyte: the rows.
        CliResult result;
        await using (var proxy = new CuttingProxy(target.Port, 1_000_000, CutDirection.Upload, cuts: 1000, stall: true))
        {
            var stalled = FaultServers.Through(target, proxy.Port);
            string[] args = command switch
            {
                "restore" => ["--json", "restore", work.File("a.dump"), "--target", stalled, "--confirm", target.Database],
                "copy" => ["--json", "copy", "--source", CliRunner.Url(source), "--target", stalled, "--confirm", target.Database],
                // The estimate's sample would be the target's first megabyte: the rows are what this test cuts.
                _ => ["--json", "migrate", "--source", CliRunner.Url(source), "--target", stalled, "--confirm", target.Database, "--workdir", work.File("work"), "--no-estimate"],
            };

            result = await SignalAsync(args, proxy.FirstCut, "TERM");
        }

        Assert.True(result.ExitCode == 130, result.ToString());
        var json = Single(result);
        Assert.Equal("interrupted", json.GetProperty("status").GetString());
        Assert.Equal("partlyWritten", json.GetProperty("targetState").GetString());
        Assert.Contains(target.Database, json.GetProperty("target").GetString(), StringComparison.Ordinal);
        Assert.Contains($"Interrupted. The target {target.Database} may hold part of what was being written", result.Stderr, StringComparison.Ordinal);
        if (command == "migrate")
        {
            Assert.False(string.IsNullOrEmpty(json.GetProperty("id").GetString()));
        }

        // Independently, once the stalled sessions have ended: the target was emptied, and holds fewer rows than the source.
        var superuser = servers.Target.Cluster.Superuser(target.Database);
        await WaitForNoOtherSessionsAsync(superuser);
        Assert.Null(await PgServer.ScalarAsync<string>(superuser, "SELECT to_regclass('public.keep')::text"));
        Assert.True(await PgServer.ScalarAsync<long>(superuser, "SELECT coalesce((SELECT count(*) FROM items WHERE to_regclass('public.items') IS NOT NULL), 0)") < 60000);
    }

    [Fact]
    public async Task Should_Say_The_Target_Was_Not_Changed_When_Interrupted_While_Emptying_Waits()
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("waiting");
        await servers.Target.ExecuteAsync(target.Database, $"CREATE TABLE keep AS SELECT g AS id FROM generate_series(1, 5) g; ALTER TABLE keep OWNER TO \"{target.User}\"");
        using var work = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", work.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        var superuser = servers.Target.Cluster.Superuser(target.Database);
        await using var holder = new NpgsqlConnection(superuser.ToNpgsqlConnectionString());
        await holder.OpenAsync();
        await using var tx = await holder.BeginTransactionAsync();
        await Db.ExecuteAsync(holder, "LOCK TABLE keep IN ACCESS SHARE MODE", CancellationToken.None);

        var result = await SignalAsync(
            ["--json", "restore", work.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "300"],
            WaitingForLockAsync(superuser),
            "INT");

        Assert.True(result.ExitCode == 130, result.ToString());
        var json = Single(result);
        Assert.Equal("interrupted", json.GetProperty("status").GetString());
        Assert.Equal("untouched", json.GetProperty("targetState").GetString());
        Assert.Contains($"Interrupted. The target {target.Database} was not changed.", result.Stderr, StringComparison.Ordinal);
        await tx.RollbackAsync();
        Assert.Equal(5L, await PgServer.ScalarAsync<long>(superuser, "SELECT count(*) FROM keep"));
        Assert.Null(await PgServer.ScalarAsync<string>(superuser, "SELECT to_regclass('public.items')::text"));
    }

    [Fact]
    public async Task Should_Print_An_Interrupted_Object_For_A_Command_Without_A_Target()
    {
        var source = await servers.SourceAsync();
        using var work = new TempDir();
        await using var proxy = new CuttingProxy(source.Port, 30_000, CutDirection.Download, cuts: 1000, stall: true);

        var result = await SignalAsync(["--json", "dump", "--source", FaultServers.Through(source, proxy.Port), "--to", work.File("a.dump")], proxy.FirstCut, "INT");

        Assert.True(result.ExitCode == 130, result.ToString());
        var json = Single(result);
        Assert.Equal("interrupted", json.GetProperty("status").GetString());
        Assert.False(json.TryGetProperty("targetState", out _));
        Assert.Contains("Interrupted.", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// SIGTERM while a large table's rows stream from a healthy source into a healthy target: the source's COPY is
    /// cancelled (its session ends), the target's load is rolled back, and the command says so.
    /// </summary>
    [Fact]
    public async Task Should_End_Both_Copies_When_Interrupted_While_Rows_Stream()
    {
        var source = await servers.Source.CreateDatabaseAsync("streaming");
        await PgServer.ExecuteAsync(source, "CREATE TABLE big (id int, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 1000000) g");
        var target = await servers.Target.CreateDatabaseAsync("streamed");
        var targetSuperuser = servers.Target.Cluster.Superuser(target.Database);
        var loading = WaitForAsync(targetSuperuser, "SELECT count(*) FROM pg_stat_progress_copy WHERE tuples_processed > 10000");

        var result = await SignalAsync(["--json", "copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--jobs", "1"], loading, "TERM");

        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.Equal("interrupted", Single(result).GetProperty("status").GetString());
        var sourceSuperuser = servers.Source.Cluster.Superuser(source.Database);
        await WaitForNoOtherSessionsAsync(sourceSuperuser);
        await WaitForNoOtherSessionsAsync(targetSuperuser);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(targetSuperuser, "SELECT coalesce((SELECT count(*) FROM big WHERE to_regclass('public.big') IS NOT NULL), 0)"));
    }

    private static Task WaitForAsync(PgConnectionInfo superuser, string countSql) =>
        Eventually.Holds(async () => await PgServer.ScalarAsync<long>(superuser, countSql) != 0, TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(50));

    /// <summary>Runs the CLI, waits for <paramref name="ready"/>, then sends <paramref name="signal"/>.</summary>
    private static async Task<CliResult> SignalAsync(string[] args, Task ready, string signal)
    {
        using var tmp = new TempDir();
        var started = new TaskCompletionSource<int>();
        var run = CliRunner.RunAsync(args, FaultServers.InTemp(tmp.Path), TimeSpan.FromMinutes(2), p => started.SetResult(p.Id));
        var pid = await started.Task;
        await Task.WhenAny(ready, run);
        Assert.True(ready.IsCompleted, $"the command ended before the moment to interrupt it: {(run.IsCompleted ? await run : null)}");
        // Not a wait for anything: the command goes on a moment in the state it was caught in, and is signalled there.
        await Task.Delay(500);
        await Signals.SendAsync(pid, signal);
        return await run;
    }

    private static Task WaitForNoOtherSessionsAsync(PgConnectionInfo superuser) =>
        Eventually.True(
            async () => await PgServer.ScalarAsync<long>(superuser, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'") == 0,
            TimeSpan.FromMinutes(2), "The interrupted command's sessions did not end.");

    private static Task WaitingForLockAsync(PgConnectionInfo superuser) =>
        Eventually.True(
            async () => await PgServer.ScalarAsync<long>(superuser, "SELECT count(*) FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") > 0,
            TimeSpan.FromMinutes(2), "The restore never waited for the lock.");

    private static JsonElement Single(CliResult result)
    {
        using var doc = JsonDocument.Parse(result.Stdout);
        return doc.RootElement.Clone();
    }
}

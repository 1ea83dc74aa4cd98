using System.Text.Json;
using Npgsql;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The follow's guard watches the source on its own, whatever the apply is doing: an apply held up by a lock on
/// the target shows in `status` as blocked, with the process that holds the lock, and the slot's WAL limit still
/// stops the follow and drops the slot.
/// </summary>
public class OnlineGuardTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Show_A_Blocked_Apply_And_Still_Stop_At_The_Wal_Limit()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) VALUES ('first');");
        var target = await servers.Target.CreateDatabaseAsync("guarded");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--max-retained-wal", "8MB");
        var id = await run.WaitForFollowAsync();
        // The verification while following first: it reads the table too, and the follow waits for it to end.
        await run.WaitForVerifiedAsync();

        // Another session of the target's superuser holds the table: the apply waits for it.
        await using var locker = new NpgsqlConnection(servers.Target.Cluster.Superuser(target.Database).ToNpgsqlConnectionString());
        await locker.OpenAsync();
        await using (var begin = new NpgsqlCommand("BEGIN; LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE;", locker))
        {
            await begin.ExecuteNonQueryAsync();
        }

        await PgServer.ExecuteAsync(source, "INSERT INTO t (v) VALUES ('held up')");
        string? blocked = null;
        await Eventually.Holds(async () =>
        {
            var status = await CliRunner.RunAsync("status", id, "--json", "--workdir", dir.Path);
            using var json = JsonDocument.Parse(status.Stdout);
            if (json.RootElement.GetProperty("online") is { ValueKind: JsonValueKind.Object } online
                && online.TryGetProperty("blocked", out var b) && b.ValueKind == JsonValueKind.String)
            {
                blocked = b.GetString();
            }

            return blocked is not null;
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));

        Assert.NotNull(blocked);
        Assert.Contains("public.t", blocked, StringComparison.Ordinal);
        Assert.Contains($"held by process {locker.ProcessID}", blocked, StringComparison.Ordinal);

        // The source goes on writing while the apply is held up: past the limit, the follow stops and drops the slot.
        await run.WriteUntilItEndsAsync(source, "INSERT INTO t (v) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 2000) g", TimeSpan.FromMilliseconds(100));

        var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("Follow stopped to protect the source: the slot holds", result.Output, StringComparison.Ordinal);
        // (The console wraps long lines: compare the words.)
        var said = System.Text.RegularExpressions.Regex.Replace(result.Output, @"\s+", " ");
        Assert.Contains($"its apply was waiting for a lock on public.t held by process {locker.ProcessID}", said, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
        await using (var rollback = new NpgsqlCommand("ROLLBACK", locker))
        {
            await rollback.ExecuteNonQueryAsync();
        }
    }
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Online.Follow;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The target's connection slots for an online migration, whose follow opens more sessions there than its copy: a
/// login role allowed fewer connections than that is refused before the source is touched, naming the --jobs that
/// fits; allowed just enough, the migration verifies while following and switches, and no more of its sessions than
/// it counted were ever open on the target at once (seen on the server, not in the tool's own count).
/// </summary>
public class OnlineConnectionSlotsTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = "CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp()); CREATE TABLE hits (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO hits SELECT g, 0 FROM generate_series(1, 10) g;";

    [Fact]
    public async Task Should_Refuse_Before_The_Slot_When_The_Target_Role_Allows_Fewer_Connections_Than_The_Follow_Opens()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("few_slots");
        var needed = FollowTargetSessions.For(2, source, target).Needed;
        using var dir = new TempDir();
        CliResult check, migrate;
        // As many as the follow needs, less the check's own session and the migration's lock.
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT {needed}");
        try
        {
            check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--online");
            migrate = await OnlineRun.Start(source, target, dir.Path, "--cutover", "auto").Result;
        }
        finally
        {
            await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT -1");
        }

        Assert.Equal(3, check.ExitCode);
        Assert.Contains($"BLOCK {OnlineChecks.TargetSlotsCheck}: The target allows", check.Stdout, StringComparison.Ordinal);
        Assert.Contains($"the login role's CONNECTION LIMIT {needed}", check.Stdout, StringComparison.Ordinal);
        Assert.Contains($"and {needed} are needed (at most, while ", check.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"or run with --jobs 1 \(\d+ connections\)\.", check.Stdout);
        Assert.True(migrate.ExitCode == 3, migrate.ToString());
        Assert.Contains($"Online prerequisite '{OnlineChecks.TargetSlotsCheck}' blocks the migration", migrate.Output, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", migrate.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"));
    }

    [Fact]
    public async Task Should_Follow_And_Switch_With_No_More_Target_Sessions_At_Once_Than_It_Counted()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("enough_slots");
        var needed = FollowTargetSessions.For(2, source, target).Needed;
        using var dir = new TempDir();
        using var stop = new CancellationTokenSource();
        var watching = PeakSessionsAsync(target, stop.Token);
        await using var writer = ApplicationWriter.Start(source, "INSERT INTO ticks DEFAULT VALUES; UPDATE hits SET n = n + 1 WHERE id = 1 + (random() * 9)::int");
        CliResult result;
        // Just enough: the follow's sessions, the migration's lock, and the check's own session while it counts.
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT {needed + 2}");
        try
        {
            result = await OnlineRun.Start(source, target, dir.Path, "--cutover", "auto", "--max-lag", "5s").Result;
        }
        finally
        {
            await stop.CancelAsync();
            await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT -1");
        }

        await writer.StopAsync();
        var (peak, seen) = await watching;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("verified identical while following", MigrationJournal.All(dir.Path).Single().Step("follow").Summary, StringComparison.Ordinal);
        // The migration's lock is the one session beyond the count.
        Assert.True(peak <= needed + 1, $"{peak} sessions of the migration on the target at once, {needed} counted plus its lock: {seen}");
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        foreach (var table in new[] { "ticks", "hits" })
        {
            Assert.Equal(await PgServer.ScalarAsync<long>(source, $"SELECT count(*) FROM {table}"), await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM {table}"));
        }
    }

    /// <summary>
    /// The most sessions of <paramref name="target"/>'s login role open on its database at once until stopped, and their
    /// programs then, as the server lists them: client sessions only, as connection limits count them (a query's
    /// parallel workers show with its program's name, and take no connection slot).
    /// </summary>
    private async Task<(int Peak, string Seen)> PeakSessionsAsync(PgConnectionInfo target, CancellationToken stop)
    {
        await using var conn = new NpgsqlConnection(servers.Target.Cluster.Superuser("postgres").ToNpgsqlConnectionString());
        await conn.OpenAsync(CancellationToken.None);
        await using var cmd = new NpgsqlCommand("SELECT coalesce(application_name, '') FROM pg_stat_activity WHERE usename = @user AND datname = @database AND backend_type = 'client backend'", conn);
        cmd.Parameters.AddWithValue("user", target.User);
        cmd.Parameters.AddWithValue("database", target.Database);
        var (peak, seen) = (0, "");
        while (!stop.IsCancellationRequested)
        {
            var names = new List<string>();
            await using (var reader = await cmd.ExecuteReaderAsync(CancellationToken.None))
            {
                while (await reader.ReadAsync(CancellationToken.None))
                {
                    names.Add(reader.GetString(0));
                }
            }

            if (names.Count > peak)
            {
                (peak, seen) = (names.Count, string.Join(", ", names.GroupBy(n => n).Select(g => $"{g.Count()} × '{g.Key}'")));
            }

            await Task.Delay(5, CancellationToken.None);
        }

        return (peak, seen);
    }
}

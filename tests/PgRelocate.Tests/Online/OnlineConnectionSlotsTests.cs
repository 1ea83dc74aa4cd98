using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Online.Follow;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// Both servers' connection slots for an online migration, whose follow opens more sessions than its copy: a login
/// role allowed fewer connections than that on either side is refused before the source is touched, naming the --jobs
/// that fits; allowed just enough on both, the migration verifies while following and switches, and no more of its
/// sessions than it counted were ever open on either side at once (seen on the servers, not in the tool's own count).
/// </summary>
public class OnlineConnectionSlotsTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = "CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp()); CREATE TABLE hits (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO hits SELECT g, 0 FROM generate_series(1, 10) g;";

    [Theory]
    [InlineData("target")]
    [InlineData("source")]
    public async Task Should_Refuse_Before_The_Slot_When_A_Side_Allows_Fewer_Connections_Than_The_Follow_Opens(string side)
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("few_slots");
        var onTarget = side == "target";
        var (server, limited) = onTarget ? ((PgServer)servers.Target, target) : (servers.Source, source);
        var needed = (onTarget ? OnlineSessions.OnTarget(2, source, target) : OnlineSessions.OnSource(2, source, target)).Needed;
        var check = onTarget ? OnlineChecks.TargetSlotsCheck : OnlineChecks.SourceSlotsCheck;
        using var dir = new TempDir();
        // As many as the follow needs, less the check's own session (and on the target the migration's lock).
        var (checkRun, migrate) = await server.WithConnectionLimitAsync(limited.User, needed, async () =>
            (await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--online"),
             await OnlineRun.Start(source, target, dir.Path, "--cutover", "auto").Result));

        Assert.Equal(3, checkRun.ExitCode);
        Assert.Contains($"BLOCK {check}: The {side} allows", checkRun.Stdout, StringComparison.Ordinal);
        Assert.Contains($"the login role's CONNECTION LIMIT {needed}", checkRun.Stdout, StringComparison.Ordinal);
        Assert.Contains($"and {needed} are needed (at most, with 2 jobs, ", checkRun.Stdout, StringComparison.Ordinal);
        if (onTarget)
        {
            Assert.Matches(@"or run with --jobs 1 \(\d+ connections\)\.", checkRun.Stdout);
        }

        Assert.True(migrate.ExitCode == 3, migrate.ToString());
        Assert.Contains($"Online prerequisite '{check}' blocks the migration", migrate.Output, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", migrate.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"));
    }

    [Fact]
    public async Task Should_Follow_And_Switch_With_No_More_Sessions_At_Once_On_Either_Side_Than_It_Counted()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("enough_slots");
        var needed = OnlineSessions.OnTarget(2, source, target).Needed;
        var neededOnSource = OnlineSessions.OnSource(2, source, target).Needed;
        using var dir = new TempDir();
        using var stop = new CancellationTokenSource();
        var onTarget = PeakSessionsAsync(servers.Target.Cluster, target, stop.Token);
        var onSource = PeakSessionsAsync(servers.Source.Cluster, source, stop.Token);
        await using var writer = ApplicationWriter.Start(source.WithApplicationName(Application), "INSERT INTO ticks DEFAULT VALUES; UPDATE hits SET n = n + 1 WHERE id = 1 + (random() * 9)::int");
        CliResult result;
        // Just enough: the follow's sessions, the migration's lock on the target, the check's own session while it
        // counts, and on the source the application's and two for the checks' own (three were seen in use there as it counted).
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT {needed + 2}");
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(source.User)} CONNECTION LIMIT {neededOnSource + 3}");
        try
        {
            result = await OnlineRun.Start(source, target, dir.Path, "--cutover", "auto", "--max-lag", "5s").Result;
        }
        finally
        {
            await stop.CancelAsync();
            await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT -1");
            await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(source.User)} CONNECTION LIMIT -1");
        }

        await writer.StopAsync();
        var (peak, seen) = await onTarget;
        var (sourcePeak, sourceSeen) = await onSource;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("verified identical while following", MigrationJournal.All(dir.Path).Single().Step("follow").Summary, StringComparison.Ordinal);
        // The migration's lock is the one session beyond the count on the target.
        Assert.True(peak <= needed + 1, $"{peak} sessions of the migration on the target at once, {needed} counted plus its lock: {seen}");
        Assert.True(sourcePeak <= neededOnSource, $"{sourcePeak} sessions of the migration on the source at once, {neededOnSource} counted: {sourceSeen}");
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        foreach (var table in new[] { "ticks", "hits" })
        {
            Assert.Equal(await PgServer.ScalarAsync<long>(source, $"SELECT count(*) FROM {table}"), await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM {table}"));
        }
    }

    /// <summary>What the application writing to the source calls itself: its session is not the migration's.</summary>
    private const string Application = "the application";

    /// <summary>
    /// The most sessions of <paramref name="db"/>'s login role open on its database at once until stopped, and their
    /// programs then, as the server lists them: client and replication sessions, as a role's connection limit counts them
    /// (a query's parallel workers show with its program's name, and take no connection slot), the application's left out.
    /// </summary>
    private static async Task<(int Peak, string Seen)> PeakSessionsAsync(PgRelocate.Clusters.LocalCluster cluster, PgConnectionInfo db, CancellationToken stop)
    {
        await using var conn = new NpgsqlConnection(cluster.Superuser("postgres").ToNpgsqlConnectionString());
        await conn.OpenAsync(CancellationToken.None);
        await using var cmd = new NpgsqlCommand("SELECT coalesce(application_name, '') FROM pg_stat_activity WHERE usename = @user AND datname = @database AND backend_type IN ('client backend', 'walsender') AND application_name IS DISTINCT FROM @application", conn);
        cmd.Parameters.AddWithValue("user", db.User);
        cmd.Parameters.AddWithValue("database", db.Database);
        cmd.Parameters.AddWithValue("application", Application);
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

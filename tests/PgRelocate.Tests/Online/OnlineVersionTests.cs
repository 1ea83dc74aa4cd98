using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// `migrate --online` from older sources (PostgreSQL 12, whose publications cannot hold a partitioned table,
/// and 14) into the newest target (PostgreSQL 18) where the login role is an ordinary database owner: every
/// change kind while following, then the cutover, then pgrelocate verify and the tests' own comparison.
/// </summary>
[Heavy(55)]
public sealed class OnlineVersionTests(OnlineVersionTests.Servers servers) : IClassFixture<OnlineVersionTests.Servers>
{
    private const string Schema = """
        CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, notes text);
        CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE "Odd Name" ("Key" serial PRIMARY KEY, "the value" text);
        INSERT INTO accounts SELECT g, 0, CASE WHEN g % 10 = 0 THEN (SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 300) i) END FROM generate_series(1, 500) g;
        INSERT INTO events SELECT g, DATE '2024-01-01' + (g % 700), 'e' || g FROM generate_series(1, 1000) g;
        """;

    private const string Changes = """
        BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id <= 5; UPDATE accounts SET balance = balance + 1 WHERE id <= 5; COMMIT;
        UPDATE accounts SET balance = balance - 7 WHERE id % 10 = 0;
        DELETE FROM accounts WHERE id BETWEEN 400 AND 410;
        INSERT INTO events SELECT g, DATE '2025-02-01' + (g % 100), 'late ' || g FROM generate_series(2000, 2100) g;
        UPDATE events SET at = DATE '2025-06-01' WHERE id <= 20;
        DELETE FROM events WHERE id BETWEEN 100 AND 110;
        INSERT INTO "Odd Name" ("the value") SELECT E'tab\there ' || g FROM generate_series(1, 50) g;
        UPDATE "Odd Name" SET "the value" = 'changed' WHERE "Key" = 3;
        """;

    public sealed class Servers : IAsyncLifetime
    {
        public LogicalPg12 Pg12 { get; } = new();

        public LogicalPg14 Pg14 { get; } = new();

        public Pg18Server Target { get; } = new();

        public PgServer Source(int major) => major == 12 ? Pg12 : Pg14;

        public async Task InitializeAsync() => await Task.WhenAll(Pg12.InitializeAsync(), Pg14.InitializeAsync(), Target.InitializeAsync());

        public async Task DisposeAsync() => await Task.WhenAll(Pg12.DisposeAsync(), Pg14.DisposeAsync(), Target.DisposeAsync());
    }

    public sealed class LogicalPg12 : Pg12Server
    {
        protected override LocalClusterOptions Options => base.Options with { Settings = Logical };
    }

    public sealed class LogicalPg14 : Pg14Server
    {
        protected override LocalClusterOptions Options => base.Options with { Settings = Logical };
    }

    private static Dictionary<string, string> Logical => new()
    {
        ["wal_level"] = "logical",
        ["max_replication_slots"] = "10",
        ["max_wal_senders"] = "10",
    };

    [Theory]
    [InlineData(12)]
    [InlineData(14)]
    public async Task Should_Follow_An_Older_Source_Into_The_Newest_Target_And_Switch_Identical(int major)
    {
        var server = servers.Source(major);
        var source = await server.CreateDatabaseAsync($"live{major}");
        await server.ExecuteAsync("postgres", $"ALTER ROLE \"{source.User}\" REPLICATION");
        await PgServer.ExecuteAsync(source, Schema);
        var target = await servers.Target.CreateDatabaseAsync($"from{major}");
        using var dir = new TempDir();

        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, Changes);
        await run.WaitForChangesAsync(10 + 50 + 11 + 101 + 20 + 11 + 50 + 1);
        await run.CutoverAsync(id);

        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(server.Cluster.Superuser(source.Database), "SELECT count(*) FROM pg_replication_slots"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_publication"));
    }
}

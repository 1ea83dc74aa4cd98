using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>A source cluster that can stream its changes (wal_level logical) and a target, for online migrations.</summary>
public sealed class OnlineServers : IAsyncLifetime
{
    public LogicalServer Source { get; } = new();

    public PgServer Target { get; } = new();

    public async Task InitializeAsync() => await Task.WhenAll(Source.InitializeAsync(), Target.InitializeAsync());

    public async Task DisposeAsync() => await Task.WhenAll(Source.DisposeAsync(), Target.DisposeAsync());

    /// <summary>A source database owned by a role with the REPLICATION attribute (not a superuser).</summary>
    public async Task<PgConnectionInfo> SourceAsync(string sql, bool replication = true)
    {
        var db = await Source.CreateDatabaseAsync("live");
        if (replication)
        {
            await Source.ExecuteAsync("postgres", $"ALTER ROLE \"{db.User}\" REPLICATION");
        }

        await PgServer.ExecuteAsync(db, sql);
        return db;
    }

    public sealed class LogicalServer : PgServer
    {
        protected override LocalClusterOptions Options => new()
        {
            Name = "online-source",
            Settings = new Dictionary<string, string>
            {
                ["wal_level"] = "logical",
                ["max_replication_slots"] = "20",
                ["max_wal_senders"] = "20",
                // Transactions over 64 kB are streamed before they commit (PostgreSQL 14 on), so every test
                // with a sizeable transaction goes through the spool.
                ["logical_decoding_work_mem"] = "64kB",
            },
        };
    }
}

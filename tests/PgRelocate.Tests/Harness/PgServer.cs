using Npgsql;
using PgRelocate.Clusters;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// A throwaway PostgreSQL cluster for one test class (use as <c>IClassFixture&lt;PgServer&gt;</c>). Tests make
/// their own uniquely named databases with <see cref="CreateDatabaseAsync"/>, so they can run in parallel.
/// Subclass and override <see cref="Options"/> for another server version or other settings.
/// </summary>
public class PgServer : IAsyncLifetime
{
    private static int _counter;

    public LocalCluster Cluster { get; private set; } = null!;

    protected virtual LocalClusterOptions Options => new() { Name = GetType().Name.ToLowerInvariant() };

    /// <summary>The bin folder of the server this cluster runs (its installation's extension folder is beside it).</summary>
    public string ServerBinDir => Options.ServerBinDir ?? ServerBinaries.Newest();

    public async Task InitializeAsync()
    {
        Cluster = await LocalCluster.StartAsync(Options, CancellationToken.None);
        Secrets.Register(Cluster.Superuser().ToNpgsqlConnectionString().Split(';').First(p => p.StartsWith("Password=", StringComparison.Ordinal))["Password=".Length..]);
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>A fresh database owned by a fresh non-superuser login role; returns a connection as that role.</summary>
    public async Task<PgConnectionInfo> CreateDatabaseAsync(string prefix = "db", string? owner = null)
    {
        var n = Interlocked.Increment(ref _counter);
        var name = $"{prefix}_{n}_{Guid.NewGuid().ToString("N")[..6]}";
        var info = await Cluster.CreateDatabaseAsync(name, owner ?? name + "_owner");
        RegisterPassword(info);
        return info;
    }

    /// <summary>Runs SQL as the superuser in <paramref name="database"/>.</summary>
    public Task ExecuteAsync(string database, string sql) => Cluster.ExecuteAsync(sql, database);

    /// <summary>Runs <paramref name="work"/> while <paramref name="role"/> may open at most <paramref name="limit"/> connections, and lifts the limit after it, whatever happens.</summary>
    public async Task<T> WithConnectionLimitAsync<T>(string role, int limit, Func<Task<T>> work)
    {
        await ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(role)} CONNECTION LIMIT {limit}");
        try
        {
            return await work();
        }
        finally
        {
            await ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(role)} CONNECTION LIMIT -1");
        }
    }

    /// <summary>Runs SQL as the given connection's role.</summary>
    public static async Task ExecuteAsync(PgConnectionInfo db, string sql)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Waits until a session of <paramref name="db"/>'s server matching <paramref name="condition"/> (on
    /// pg_stat_activity) is seen, and fails if <paramref name="running"/> ends first or nothing is seen within a
    /// minute. The server watches, a millisecond apart: polled from the tests' process on a machine the whole suite
    /// keeps busy, a state that lasts a tenth of a second (a table's comparison) was missed.
    /// </summary>
    public static async Task WaitForActivityAsync(PgConnectionInfo db, string condition, Task running, string what)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            $"""
            DO $watch$
            BEGIN
                FOR i IN 1..60000 LOOP
                    PERFORM pg_catalog.pg_stat_clear_snapshot();
                    IF EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity WHERE {condition}) THEN
                        RETURN;
                    END IF;
                    PERFORM pg_catalog.pg_sleep(0.001);
                END LOOP;
                RAISE EXCEPTION 'not seen';
            END $watch$
            """,
            conn) { CommandTimeout = 300 };
        var watching = cmd.ExecuteNonQueryAsync();
        if (await Task.WhenAny(watching, running) == running && !watching.IsCompleted)
        {
            var outcome = running.IsFaulted ? $"failed: {running.Exception!.GetBaseException().Message}" : "ended";
            Assert.Fail($"never saw {what}: the work {outcome} first");
        }

        try
        {
            await watching;
        }
        catch (PostgresException e) when (e.MessageText == "not seen")
        {
            Assert.Fail($"never saw {what} within a minute");
        }
    }

    public static async Task<T?> ScalarAsync<T>(PgConnectionInfo db, string sql)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        return await Db.ScalarAsync<T>(conn, sql, CancellationToken.None);
    }

    /// <summary>
    /// What every session of <paramref name="db"/>'s database is doing (its program, state, wait and query) and which
    /// locks it waits for: printed when a command did not finish, so that a hang says where it hangs. Never throws.
    /// </summary>
    public static async Task<string> SessionsAsync(PgConnectionInfo db)
    {
        try
        {
            await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
            await conn.OpenAsync();
            var rows = await Db.ListAsync(
                conn,
                """
                SELECT a.pid || ' ' || coalesce(a.application_name, '') || ' ' || coalesce(a.state, '') || ' ' || coalesce(a.wait_event_type || ':' || a.wait_event, '')
                       || coalesce(' blocked by ' || nullif(pg_catalog.pg_blocking_pids(a.pid)::text, '{}'), '')
                       || coalesce(' waits for ' || (SELECT string_agg(l.locktype || ' ' || coalesce(l.relation::regclass::text, l.transactionid::text, l.virtualxid, '') || ' ' || l.mode, ', ') FROM pg_catalog.pg_locks l WHERE l.pid = a.pid AND NOT l.granted), '')
                       || ': ' || left(regexp_replace(coalesce(a.query, ''), '\s+', ' ', 'g'), 200)
                FROM pg_catalog.pg_stat_activity a
                WHERE a.datname = current_database() AND a.pid <> pg_catalog.pg_backend_pid()
                ORDER BY a.backend_start
                """,
                r => r.GetString(0),
                CancellationToken.None);
            return $"Sessions of {db.Database}:\n  " + string.Join("\n  ", rows);
        }
        catch (Exception e)
        {
            return $"Sessions of {db.Database} could not be read: {e.Message}";
        }
    }

    internal static void RegisterPassword(PgConnectionInfo info)
    {
        var cs = new NpgsqlConnectionStringBuilder(info.ToNpgsqlConnectionString());
        if (cs.Password is { } p)
        {
            Secrets.Register(p);
        }
    }
}

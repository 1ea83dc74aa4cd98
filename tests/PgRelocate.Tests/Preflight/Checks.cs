using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Preflight;
using PgRelocate.Progress;
using PgRelocate.Tests.Harness;
using PgRelocate.Tools;

namespace PgRelocate.Tests.Preflight;

/// <summary>Runs one check the way the runner does, against real databases.</summary>
internal static class Checks
{
    private static readonly PgBinaries Binaries = new();

    public static async Task<IReadOnlyList<CheckResult>> RunAsync(IPreflightCheck check, PgConnectionInfo source, PgConnectionInfo? target = null)
    {
        var report = await new PreflightRunner([check]).RunAsync(source, target, Binaries, NullReporter.Instance, CancellationToken.None);
        return report.Results;
    }

    public static async Task<CheckResult> RunOneAsync(IPreflightCheck check, PgConnectionInfo source, PgConnectionInfo? target = null) =>
        Assert.Single(await RunAsync(check, source, target));

    public static CheckResult Row(IReadOnlyList<CheckResult> rows, string check) => Assert.Single(rows, r => r.Check == check);

    /// <summary>
    /// Waits until no other session is connected to <paramref name="db"/>: the connections the harness
    /// used to set the database up end asynchronously on the server side.
    /// </summary>
    public static async Task WaitForNoOtherSessionsAsync(PgConnectionInfo db)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await Eventually.Holds(
            async () => await Db.ScalarAsync<long>(conn,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                CancellationToken.None) == 0,
            TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
    }
}

using PgRelocate.Connections;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// The refusal tests' marker: a target database holding a table of 100 rows before the run, which a refused run
/// must leave as it was (checked with plain SQL, outside the tool's code), with no table of the source's (t).
/// </summary>
public static class MarkerTable
{
    public static async Task<PgConnectionInfo> TargetWithRowsAsync(PgServer server, string prefix)
    {
        var target = await server.CreateDatabaseAsync(prefix);
        await PgServer.ExecuteAsync(target, "CREATE TABLE keep (id int PRIMARY KEY); INSERT INTO keep SELECT generate_series(1, 100);");
        return target;
    }

    public static async Task AssertUntouchedAsync(PgConnectionInfo target)
    {
        Assert.Equal(100L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM keep"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 't'"));
    }
}

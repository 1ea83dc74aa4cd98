using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Online.PgBouncer;

/// <summary>
/// The harness's PgBouncer answers as the cutover expects: the application's queries go through its entry, and
/// its admin console refuses what Npgsql sends (every command by the extended protocol), which is why the tool
/// speaks to the console through psql.
/// </summary>
public class PgBouncerHarnessTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Pass_Queries_Through_Its_Entry_And_Refuse_Npgsql_On_Its_Console()
    {
        Assert.True(PgBouncerServer.Installed, "pgbouncer is not installed: run scripts/setup.sh");
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");

        var through = await Record.ExceptionAsync(async () => Assert.Equal(2L, await PgServer.ScalarAsync<long>(bouncer.App, "SELECT count(*) FROM t")));
        Assert.True(through is null, through?.Message + "\n" + bouncer.Tail());
        await using var console = new NpgsqlConnection(bouncer.Admin.ToNpgsqlConnectionString() + ";Server Compatibility Mode=NoTypeLoading;Max Auto Prepare=0;No Reset On Close=true;Pooling=false");
        var refused = await Record.ExceptionAsync(async () =>
        {
            await console.OpenAsync();
            await using var cmd = new NpgsqlCommand("SHOW VERSION", console);
            await cmd.ExecuteScalarAsync();
        });
        Assert.NotNull(refused);
        Assert.Contains("extended query protocol not supported", refused.Message + refused.InnerException?.Message, StringComparison.OrdinalIgnoreCase);
    }
}

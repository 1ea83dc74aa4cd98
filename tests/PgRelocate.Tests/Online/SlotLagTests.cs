using PgRelocate.Connections;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>SlotLag.sql, the one query of a slot's WAL: one slot by name, or the tool's slots on the server.</summary>
public class SlotLagTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Read_One_Slots_Lag_And_List_Only_The_Tools_Slots()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY);");
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var ours = "pgrelocate_" + suffix;
        var other = "other_" + suffix;
        await PgServer.ExecuteAsync(source, $"SELECT pg_catalog.pg_create_logical_replication_slot('{ours}', 'pgoutput')");
        await PgServer.ExecuteAsync(source, $"SELECT pg_catalog.pg_create_logical_replication_slot('{other}', 'pgoutput')");
        await PgServer.ExecuteAsync(source, "INSERT INTO t SELECT generate_series(1, 1000)");
        try
        {
            await using var conn = await Db.OpenAsync(source, "source", CancellationToken.None);

            var one = Assert.Single(await SourceSide.SlotsAsync(conn, ours, CancellationToken.None));
            var tools = await SourceSide.ToolSlotsAsync(conn, CancellationToken.None);
            var gone = await SourceSide.SlotsAsync(conn, ours + "_gone", CancellationToken.None);

            Assert.Equal(ours, one.Name);
            Assert.Equal(source.Database, one.Database);
            Assert.False(one.Active);
            Assert.True(one.LagBytes > 0, $"lag {one.LagBytes}");
            Assert.True(one.RetainedBytes >= one.LagBytes, $"retained {one.RetainedBytes}, lag {one.LagBytes}");
            if (conn.PostgreSqlVersion.Major >= 13)
            {
                Assert.Equal("reserved", one.WalStatus);
            }
            else
            {
                Assert.Null(one.WalStatus);
                Assert.Null(one.SafeWalSize);
            }

            Assert.Contains(tools, s => s.Name == ours && s.Database == source.Database && s.RetainedBytes > 0);
            Assert.DoesNotContain(tools, s => s.Name == other);
            Assert.Empty(gone);
        }
        finally
        {
            await PgServer.ExecuteAsync(source, $"SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name IN ('{ours}', '{other}')");
        }
    }
}

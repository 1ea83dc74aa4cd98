using Npgsql;
using NpgsqlTypes;
using PgRelocate.Online;
using PgRelocate.Online.Apply;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>One apply lane (<see cref="ApplyLane"/>) on a real target, fed changes as the reader hands them.</summary>
public class ApplyLaneTests(PgServer server) : IClassFixture<PgServer>
{
    private const string Slot = "lane_slot";

    /// <summary>
    /// pgoutput sends a table's description again after every change to its catalog row: each VACUUM and
    /// ANALYZE (autovacuum's, every minute or so on a busy table), so a follow of days sees thousands. The
    /// reader makes a new description of each; the lane keeps one per table, not one per description.
    /// </summary>
    [Fact]
    public async Task Should_Hold_One_Description_Per_Table_However_Often_The_Stream_Describes_It_Again()
    {
        var db = await server.CreateDatabaseAsync("lane");
        await PgServer.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int PRIMARY KEY)");
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await TargetState.CreateAsync(conn, Slot, NpgsqlLogSequenceNumber.Parse("0/1000"), CancellationToken.None);

        var lane = new ApplyLane(conn, Slot, new Dictionary<string, ulong>());
        try
        {
            var u = new SourceRelation(16401, "public", "u", ["id"], [true], [23], [-1]);
            for (var i = 1; i <= 50; i++)
            {
                // Described anew before each transaction, as after each vacuum of the table on the source.
                var t = new SourceRelation(16400, "public", "t", ["id", "v"], [true, false], [23, 25], [-1, -1]);
                await lane.BeginAsync((ulong)(0x2000 + i), CancellationToken.None);
                await lane.ApplyAsync(new InsertChange(t, new RowValues([$"{i}", "x"], [false, false])), CancellationToken.None);
                await lane.ApplyAsync(new InsertChange(u, new RowValues([$"{i}"], [false])), CancellationToken.None);
                await lane.EndAsync((ulong)(0x2000 + i), CancellationToken.None);
                await lane.CommitAsync(CancellationToken.None);
            }

            Assert.Equal(2, lane.DescribedTables);
        }
        finally
        {
            await lane.StopAsync();
        }

        await using var check = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await check.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT (SELECT count(*) FROM t WHERE v = 'x') || ' ' || (SELECT count(*) FROM u)", check);
        Assert.Equal("50 50", await cmd.ExecuteScalarAsync());
    }
}

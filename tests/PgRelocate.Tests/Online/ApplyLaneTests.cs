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

    /// <summary>
    /// A busy source's follow hands the next group's changes to the lanes while the last group commits
    /// (<see cref="ChangeApplier.CommitInBackgroundAsync"/>). The follow's position must still be stored only once
    /// every lane has committed its part of the group: here the second lane's commit waits for a row another session
    /// locks, and the position stays where it was until it is let go, while the applier goes on.
    /// </summary>
    [Fact]
    public async Task Should_Store_The_Follows_Position_Only_Once_Every_Lane_Committed_When_The_Commit_Runs_Behind()
    {
        var db = await server.CreateDatabaseAsync("lanes_behind");
        var routes = ApplyRoutes.From(2, []);
        // Two tables the hash puts on different lanes, the first on the lane that stores the follow's position.
        var names = Enumerable.Range(0, 50).Select(i => (Id: (uint)(100 + i), Name: "t" + i)).ToList();
        string first = names.First(n => routes.LaneOf(Relation(n.Id, n.Name)) == 0).Name, second = names.First(n => routes.LaneOf(Relation(n.Id, n.Name)) == 1).Name;
        await PgServer.ExecuteAsync(db, $"CREATE TABLE {first} (id int PRIMARY KEY, v text); CREATE TABLE {second} (id int PRIMARY KEY, v text); INSERT INTO {second} VALUES (1, 'before')");
        var connections = new List<NpgsqlConnection>();
        for (var i = 0; i < 3; i++)
        {
            connections.Add(new NpgsqlConnection(db.ToNpgsqlConnectionString()));
            await connections[i].OpenAsync();
        }

        var (check, locker) = (connections[2], new NpgsqlConnection(db.ToNpgsqlConnectionString()));
        await locker.OpenAsync();
        await TargetState.CreateAsync(check, Slot, NpgsqlLogSequenceNumber.Parse("0/1000"), CancellationToken.None);
        var lanes = connections.Take(2).Select(c => new ApplyLane(c, Slot, new Dictionary<string, ulong>())).ToList();
        var applier = new ChangeApplier(lanes, Slot, NpgsqlLogSequenceNumber.Parse("0/1000"), routes);
        var (a, b) = (Relation(1, first), Relation(2, second));
        try
        {
            await using (var hold = new NpgsqlCommand($"BEGIN; SELECT * FROM {second} WHERE id = 1 FOR UPDATE", locker))
            {
                await hold.ExecuteNonQueryAsync();
            }

            await TransactionAsync(applier, 0x2000, new InsertChange(a, Row("1", "a")), new UpdateChange(b, null, false, Row("1", "b")));
            Assert.Null(await applier.CommitInBackgroundAsync(CancellationToken.None));

            // The first lane commits its part; the second waits for the lock; the applier takes the next group.
            await TransactionAsync(applier, 0x3000, new InsertChange(a, Row("2", "a")));
            await Task.Delay(500);
            Assert.Equal(1L, await ScalarAsync(check, $"SELECT count(*) FROM {first}"));
            Assert.Equal(NpgsqlLogSequenceNumber.Parse("0/1000"), (await TargetState.ReadAsync(check, Slot, CancellationToken.None))!.Value.Lsn);
            Assert.Equal(NpgsqlLogSequenceNumber.Parse("0/1000"), applier.Position);
            Assert.False(applier.Idle);

            await using (var release = new NpgsqlCommand("COMMIT", locker))
            {
                await release.ExecuteNonQueryAsync();
            }

            // Waits for the group committing, then commits the next: the position is the last group's end.
            Assert.Equal(NpgsqlLogSequenceNumber.Parse("0/3001"), await applier.CommitAsync(CancellationToken.None));
            Assert.Equal(NpgsqlLogSequenceNumber.Parse("0/3001"), (await TargetState.ReadAsync(check, Slot, CancellationToken.None))!.Value.Lsn);
            Assert.Equal(2L, await ScalarAsync(check, $"SELECT count(*) FROM {first}"));
            Assert.Equal(1L, await ScalarAsync(check, $"SELECT count(*) FROM {second} WHERE v = 'b'"));
            Assert.True(applier.Idle);
            Assert.Equal(2, applier.Transactions);
        }
        finally
        {
            await applier.StopAsync();
            await locker.DisposeAsync();
            foreach (var conn in connections)
            {
                await conn.DisposeAsync();
            }
        }
    }

    private static SourceRelation Relation(uint id, string name) => new(16400 + id, "public", name, ["id", "v"], [true, false], [23, 25], [-1, -1]);

    private static RowValues Row(string id, string v) => new([id, v], [false, false]);

    /// <summary>One source transaction, committed at <paramref name="lsn"/> and ending one byte after it, as the reader hands it on.</summary>
    private static async Task TransactionAsync(ChangeApplier applier, ulong lsn, params Change[] changes)
    {
        await applier.ApplyAsync(new BeginChange(lsn, DateTime.UtcNow), CancellationToken.None);
        foreach (var change in changes)
        {
            await applier.ApplyAsync(change, CancellationToken.None);
        }

        await applier.ApplyAsync(new CommitChange(lsn, lsn + 1, DateTime.UtcNow), CancellationToken.None);
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}

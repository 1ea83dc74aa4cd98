using System.Reflection;
using Npgsql;
using NpgsqlTypes;
using PgRelocate.Online;
using PgRelocate.Online.Apply;
using PgRelocate.Progress;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// What a follow keeps stays bounded however long it runs: nothing its parts hold grows with the transactions
/// applied or with the stream's descriptions of the same tables (sent again after every VACUUM and ANALYZE of a
/// table on the source). Counted after many, not timed.
/// </summary>
public class FollowMemoryTests(PgServer server) : IClassFixture<PgServer>
{
    private const string Slot = "memory_slot";
    private const int Many = 200;

    /// <summary>
    /// Every commit of a lane waits on the follow's token, which lives as long as the follow: a wait that left a
    /// registration on it kept one per commit and one per position stored (hundreds a second under a steady load).
    /// </summary>
    [Fact]
    public async Task Should_Leave_No_Registration_On_The_Follows_Token_After_Its_Commits()
    {
        var db = await server.CreateDatabaseAsync("lane_token");
        await PgServer.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY)");
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await TargetState.CreateAsync(conn, Slot, NpgsqlLogSequenceNumber.Parse("0/1000"), CancellationToken.None);

        using var follow = new CancellationTokenSource();
        var lane = new ApplyLane(conn, Slot, new Dictionary<string, ulong>());
        try
        {
            var t = new SourceRelation(16400, "public", "t", ["id"], [true], [23], [-1]);
            for (var i = 1; i <= Many; i++)
            {
                await lane.BeginAsync((ulong)(0x2000 + i), follow.Token);
                await lane.ApplyAsync(new InsertChange(t, new RowValues([$"{i}"], [false])), follow.Token);
                await lane.EndAsync((ulong)(0x2000 + i), follow.Token);
                await lane.CommitAsync(follow.Token);
                await await lane.StartRunAsync(new NpgsqlBatchCommand("SELECT 1"), Task.CompletedTask, follow.Token);
            }

            // A wait lets go of the token just after it hands back: the last one's within moments.
            for (var polls = 0; polls < 100 && Registrations(follow) > 0; polls++)
            {
                await Task.Delay(50);
            }

            Assert.Equal(0, Registrations(follow));
        }
        finally
        {
            await lane.StopAsync();
        }

        await using var check = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await check.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM t", check);
        Assert.Equal((long)Many, await cmd.ExecuteScalarAsync());
    }

    /// <summary>
    /// The applier looks at each description once for a table to carry; it keeps none the stream no longer holds
    /// (here the lane keeps the first, and nothing else any).
    /// </summary>
    [Fact]
    public async Task Should_Keep_No_Description_The_Stream_Replaced_In_The_Applier()
    {
        var db = await server.CreateDatabaseAsync("applier_descriptions");
        await PgServer.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        using var dir = new TempDir();
        var carry = new SchemaCarry(db, "memory_publication", dir.Path, NullReporter.Instance);
        await using (var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString()))
        {
            await conn.OpenAsync();
            await carry.RefreshAsync(conn, CancellationToken.None);
        }

        var lane = new RecordingLane("lane");
        var applier = new ChangeApplier([lane], Slot, new NpgsqlLogSequenceNumber(0), ApplyRoutes.From(1, []), carry);
        await DescribedAgainAsync(applier);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.Equal(Many, lane.Statements.Count());
        Assert.InRange(applier.DescriptionsHeld, 0, 1);
    }

    /// <summary>A streamed transaction's file numbers the descriptions it uses; once no file is open or being read, none is kept.</summary>
    [Fact]
    public void Should_Keep_No_Description_In_The_Spool_Once_Its_Transactions_Ended()
    {
        using var dir = new TempDir();
        using var spool = new TransactionSpool(dir.Path);
        for (var i = 1; i <= Many; i++)
        {
            var xid = (uint)(1000 + i);
            spool.Add(new StreamedChange(xid, xid, new InsertChange(Described(), new RowValues([$"{i}", "x"], [false, false]))));
            // Committed (and replayed), rolled back, or applied as it arrived (then dropped), in turn.
            switch (i % 3)
            {
                case 0:
                    var replay = spool.Commit(new StreamCommitChange(xid, (ulong)(0x3000 + i), (ulong)(0x3001 + i), DateTime.UtcNow));
                    var replayed = new List<Change>();
                    while (replay.MoveNext())
                    {
                        replayed.Add(replay.Current);
                    }

                    Assert.Equal($"{i}", Assert.IsType<InsertChange>(replayed[1]).New.Values[0]);
                    break;
                case 1:
                    spool.Abort(new StreamAbortChange(xid, xid));
                    break;
                default:
                    spool.Drop(xid);
                    break;
            }
        }

        Assert.Equal(0, spool.Open);
        Assert.Equal(0, spool.Relations);
    }

    /// <summary>Transactions of one row each, the table described anew before each, as after each VACUUM of it on the source.</summary>
    private static async Task DescribedAgainAsync(ChangeApplier applier)
    {
        for (var i = 1; i <= Many; i++)
        {
            var lsn = (ulong)(0x2000 + (i * 0x10));
            await applier.ApplyAsync(new BeginChange(lsn, DateTime.UtcNow), CancellationToken.None);
            await applier.ApplyAsync(new InsertChange(Described(), new RowValues([$"{i}", "x"], [false, false])), CancellationToken.None);
            await applier.ApplyAsync(new CommitChange(lsn, lsn + 1, DateTime.UtcNow), CancellationToken.None);
            await applier.CommitAsync(CancellationToken.None);
        }
    }

    private static SourceRelation Described() => new(16400, "public", "t", ["id", "v"], [true, false], [23, 25], [-1, -1]);

    /// <summary>
    /// Callbacks registered on the source's token and not yet removed. No API counts them: this reads the runtime's
    /// own list (its private fields), and fails, rather than count nothing, should the runtime name them otherwise.
    /// </summary>
    private static int Registrations(CancellationTokenSource source)
    {
        const BindingFlags Fields = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
        var registrationsField = typeof(CancellationTokenSource).GetField("_registrations", Fields)
            ?? throw new InvalidOperationException("CancellationTokenSource has no _registrations field in this runtime: count its registrations otherwise.");
        if (registrationsField.GetValue(source) is not { } registrations)
        {
            return 0;
        }

        var callbacksField = registrations.GetType().GetField("Callbacks", Fields)
            ?? throw new InvalidOperationException("The runtime's registrations have no Callbacks field: count them otherwise.");
        var count = 0;
        for (var node = callbacksField.GetValue(registrations); node is not null; node = NextOf(node))
        {
            count++;
        }

        return count;

        static object? NextOf(object node) =>
            (node.GetType().GetField("Next", Fields) ?? throw new InvalidOperationException("The runtime's registration node has no Next field: count them otherwise.")).GetValue(node);
    }
}

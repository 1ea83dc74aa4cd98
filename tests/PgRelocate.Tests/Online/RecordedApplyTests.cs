using NpgsqlTypes;
using PgRelocate.Online;
using PgRelocate.Online.Apply;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The apply, without a server: sessions a real source sent (Online/Streams, see <see cref="RecordedStreams"/>)
/// go through the reader and the applier, whose lanes write down the statements and commits they were asked
/// for (<see cref="RecordingLane"/>).
/// </summary>
public class RecordedApplyTests
{
    private const string Slot = "pgrelocate_test";

    [Fact]
    public async Task Should_Leave_A_Toasted_Value_The_Update_Did_Not_Change_Out_Of_The_Statement()
    {
        var changes = await RecordedStreams.ChangesAsync(RecordedStreams.Read("toast-unchanged"));
        var update = Assert.Single(changes.OfType<UpdateChange>());
        Assert.Null(update.Old);
        Assert.Equal([false, true, false], update.New.Unchanged);

        var (lanes, applier, _) = Applier(1);
        await ApplyAsync(changes, applier, null);

        Assert.Equal(
            ["begin", """sql UPDATE "public"."docs" SET "n" = '1'::integer WHERE "id" = '1'::integer""", "end", "commit", $"run advance to {End(changes)} (1 changes, 1 transactions)"],
            lanes[0].Log);
    }

    [Fact]
    public async Task Should_Find_The_Row_By_Its_Old_Key_When_The_Key_Changes()
    {
        var changes = await RecordedStreams.ChangesAsync(RecordedStreams.Read("key-change"));
        var update = Assert.Single(changes.OfType<UpdateChange>());
        Assert.False(update.OldIsFullRow);
        Assert.Equal("1", update.Old!.Values[0]);

        var (lanes, applier, _) = Applier(1);
        await ApplyAsync(changes, applier, null);

        // The new key is set, the TOASTed body left as the target has it, the row found by its old key.
        Assert.Equal(["""UPDATE "public"."docs" SET "id" = '2'::integer, "n" = '5'::integer WHERE "id" = '1'::integer"""], lanes[0].Statements);
    }

    [Fact]
    public async Task Should_Replay_A_Streamed_Transaction_Without_Its_Rolled_Back_Subtransaction_From_The_Spool()
    {
        var changes = await RecordedStreams.ChangesAsync(RecordedStreams.Read("streamed-subtransaction"));
        var streamed = changes.OfType<StreamedChange>().ToList();
        var abort = Assert.Single(changes.OfType<StreamAbortChange>());
        Assert.NotEqual(abort.Xid, abort.SubXid);
        // The source streams what it holds when it runs out of memory: some of the rolled back rows were sent
        // before their rollback (what it still held then, it dropped itself).
        var sent = streamed.Select(s => int.Parse(((InsertChange)s.Change).New.Values[0]!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Subset(sent.ToHashSet(), Enumerable.Range(1, 600).Append(3000).ToHashSet());
        Assert.Contains(sent, id => id > 1000 && id < 2000);
        Assert.Single(changes.OfType<StreamCommitChange>());

        using var dir = new TempDir();
        var live = new List<RecordingLane>();
        var (lanes, applier, transactions) = Applier(1, dir.Path, live);
        await ApplyAsync(changes, applier, transactions);

        // Applied as it arrived until the subtransaction's rollback, then rolled back (the lane stopped, uncommitted)
        // and replayed from the spool at its commit: the top transaction's rows and the last one, not the rolled back ones.
        var given = Assert.Single(live);
        Assert.True(given.Stopped);
        Assert.DoesNotContain(given.Log, l => l.StartsWith("commit", StringComparison.Ordinal));
        Assert.Contains(given.Statements, s => s.Contains("'1001'", StringComparison.Ordinal));
        var inserted = lanes[0].Statements.Select(s => s.Split("VALUES ('")[1].Split('\'')[0]).Select(int.Parse).ToList();
        Assert.Equal([.. Enumerable.Range(1, 600), 3000], inserted);
        Assert.Equal($"run advance to {End(changes)} (601 changes, 1 transactions)", lanes[0].Log[^1]);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories), File.Exists);
    }

    [Fact]
    public async Task Should_Apply_A_Streamed_Transaction_As_It_Arrives_And_Commit_It_With_The_Follows_Position()
    {
        // The same recording up to the subtransaction's first change, then its commit: nothing rolled back.
        var changes = await RecordedStreams.ChangesAsync(RecordedStreams.Read("streamed-subtransaction"));
        var top = changes.OfType<StreamedChange>().First().Xid;
        var commit = changes.OfType<StreamCommitChange>().Single();
        var kept = changes.TakeWhile(c => c is not StreamedChange s || s.SubXid == top).Append(commit).ToList();

        using var dir = new TempDir();
        var live = new List<RecordingLane>();
        var (lanes, applier, transactions) = Applier(2, dir.Path, live);
        await ApplyAsync(kept, applier, transactions);

        var given = Assert.Single(live);
        Assert.Equal(600, given.Statements.Count());
        Assert.Equal($"commit with advance to {new NpgsqlLogSequenceNumber(commit.EndLsn)} (600 changes, 1 transactions)", given.Log[^2]);
        Assert.Equal("stop", given.Log[^1]);
        Assert.All(lanes, l => Assert.Empty(l.Log));
        Assert.Equal(new NpgsqlLogSequenceNumber(commit.EndLsn), applier.Position);
        Assert.Equal(["\"public\".\"bulk\""], applier.ChangedTables);
    }

    [Fact]
    public async Task Should_Truncate_Tables_A_Foreign_Key_Ties_On_One_Lane_In_One_Statement()
    {
        var changes = await RecordedStreams.ChangesAsync(RecordedStreams.Read("truncate-tied"));
        var truncate = Assert.Single(changes.OfType<TruncateChange>());
        Assert.Equal(["public.parents", "public.children"], truncate.Relations.Select(r => r.Display));

        var (lanes, applier, _) = Applier(2, ties: [("\"public\".\"children\"", "\"public\".\"parents\"")]);
        await ApplyAsync(changes, applier, null);

        var used = Assert.Single(lanes, l => l.Log.Count > 0 && l.Log[0] == "begin");
        Assert.Contains("truncate \"public\".\"parents\", \"public\".\"children\"", used.Log);
        Assert.All(lanes.Where(l => l != used), l => Assert.DoesNotContain(l.Log, e => e.StartsWith("truncate", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Should_Split_A_Transaction_Over_Two_Lanes_And_Commit_Both_Before_The_Follows_Position()
    {
        var changes = await RecordedStreams.ChangesAsync(RecordedStreams.Read("two-lanes"));
        var (lanes, applier, _) = Applier(2);
        await ApplyAsync(changes, applier, null);

        var a = Assert.Single(lanes, l => l.Statements.Any(s => s.Contains("lane_a", StringComparison.Ordinal)));
        var b = Assert.Single(lanes, l => l.Statements.Any(s => s.Contains("lane_b", StringComparison.Ordinal)));
        Assert.NotSame(a, b);
        Assert.Equal(["""INSERT INTO "public"."lane_a" ("id", "v") OVERRIDING SYSTEM VALUE VALUES ('1'::integer, 'a'::text)""", """UPDATE "public"."lane_a" SET "v" = 'a2'::text WHERE "id" = '1'::integer"""], a.Statements);
        Assert.Equal(["begin", "end", "commit"], a.Log.Where(l => !l.StartsWith("sql", StringComparison.Ordinal)).Take(3));
        Assert.Equal(["begin", "end", "commit"], b.Log.Where(l => !l.StartsWith("sql", StringComparison.Ordinal)).Take(3));
        // The follow's position moves only once both lanes committed, on the first lane.
        Assert.Equal($"run advance to {End(changes)} (3 changes, 1 transactions)", lanes[0].Log[^1]);
    }

    /// <summary>An applier over recording lanes, with <paramref name="ties"/> between tables; and, given a folder, the streamed transactions.</summary>
    private static (List<RecordingLane> Lanes, ChangeApplier Applier, StreamedTransactions? Streamed) Applier(
        int count, string? folder = null, List<RecordingLane>? live = null, IEnumerable<(string, string)>? ties = null)
    {
        var lanes = Enumerable.Range(0, count).Select(i => new RecordingLane("lane " + i)).ToList();
        var applier = new ChangeApplier(lanes, Slot, new NpgsqlLogSequenceNumber(0), ApplyRoutes.From(count, ties ?? []));
        var streamed = folder is null ? null : new StreamedTransactions(new TransactionSpool(folder), applier, Slot, new NpgsqlLogSequenceNumber(0), _ =>
        {
            var lane = new RecordingLane("live");
            live?.Add(lane);
            return Task.FromResult<IApplyLane>(lane);
        });
        return (lanes, applier, streamed);
    }

    /// <summary>Hands the changes on as the follow does: streamed ones to the streamed transactions, the rest to the applier; commits at the end.</summary>
    private static async Task ApplyAsync(IEnumerable<Change> changes, ChangeApplier applier, StreamedTransactions? streamed)
    {
        var queue = new Queue<Change>(changes);
        while (queue.TryDequeue(out var change))
        {
            switch (change)
            {
                case StreamedChange part:
                    await streamed!.AddAsync(part, CancellationToken.None);
                    break;
                case StreamAbortChange abort:
                    await streamed!.AbortAsync(abort);
                    break;
                case StreamCommitChange commit:
                    var outcome = await streamed!.CommitAsync(commit, CancellationToken.None);
                    for (var replay = outcome.Replay; replay?.MoveNext() == true;)
                    {
                        await applier.ApplyAsync(replay.Current, CancellationToken.None);
                    }

                    break;
                default:
                    await applier.ApplyAsync(change, CancellationToken.None);
                    break;
            }
        }

        await applier.CommitAsync(CancellationToken.None);
        if (streamed is not null)
        {
            await streamed.DisposeAsync();
        }
    }

    private static NpgsqlLogSequenceNumber End(IReadOnlyList<Change> changes) =>
        new(changes.OfType<CommitChange>().Select(c => c.EndLsn).Concat(changes.OfType<StreamCommitChange>().Select(c => c.EndLsn)).Max());
}

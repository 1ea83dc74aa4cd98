using System.Globalization;
using PgRelocate.Online;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The recordings in Online/Streams are what a real source sends today: each scenario is recorded again from a
/// real server and must decode to the same changes as the stored one (positions, transaction ids and times
/// aside). With PGRELOCATE_RECORD_STREAMS=1 the stored recordings are replaced by the fresh ones.
/// </summary>
public class RecordedStreamTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Decode_A_Fresh_Recording_Of_Each_Scenario_As_The_Stored_One()
    {
        var fresh = await RecordedStreams.RecordAsync(servers);
        if (Environment.GetEnvironmentVariable("PGRELOCATE_RECORD_STREAMS") == "1")
        {
            foreach (var (name, messages) in fresh)
            {
                RecordedStreams.Write(name, messages);
            }
        }

        foreach (var (name, _) in RecordedStreams.Scenarios)
        {
            var stored = Shape(await RecordedStreams.ChangesAsync(RecordedStreams.Read(name)));
            Assert.Equal(stored, Shape(await RecordedStreams.ChangesAsync(fresh[name])));
            Assert.NotEmpty(stored);
        }
    }

    /// <summary>What a change says, without what differs from one recording to the next (positions, ids, times).</summary>
    internal static List<string> Shape(IReadOnlyList<Change> changes)
    {
        var xids = new Dictionary<uint, string>();
        string Xid(uint xid) => xids.TryGetValue(xid, out var n) ? n : xids[xid] = "x" + xids.Count.ToString(CultureInfo.InvariantCulture);
        string Row(RowValues r) => string.Join(",", r.Values.Select((v, i) => r.Unchanged[i] ? "<unchanged>" : v ?? "<null>"));
        string Of(Change c) => c switch
        {
            BeginChange => "begin",
            CommitChange => "commit",
            InsertChange i => $"insert {i.Relation.Display} ({Row(i.New)})",
            UpdateChange u => $"update {u.Relation.Display} {(u.Old is null ? "" : (u.OldIsFullRow ? "old " : "key ") + "(" + Row(u.Old) + ") ")}({Row(u.New)})",
            DeleteChange d => $"delete {d.Relation.Display} {(d.OldIsFullRow ? "old" : "key")} ({Row(d.Old)})",
            TruncateChange t => $"truncate {string.Join(", ", t.Relations.Select(r => r.Display))}{(t.Cascade ? " cascade" : "")}{(t.RestartIdentity ? " restart" : "")}",
            MarkerChange m => "marker " + m.Content,
            StreamedChange s => $"streamed {Xid(s.Xid)}/{Xid(s.SubXid)} {Of(s.Change)}",
            StreamCommitChange s => $"stream commit {Xid(s.Xid)}",
            StreamAbortChange a => $"stream abort {Xid(a.Xid)}/{Xid(a.SubXid)}",
            _ => c.GetType().Name,
        };
        return changes.Select(Of).ToList();
    }
}

using PgRelocate.Archives;
using PgRelocate.Restore;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// The pre-data section cut for pg_restore runs side by side: an entry never runs before, or beside, an entry it
/// depends on; a comment stays right after its object; small sections and small waves stay in one run.
/// </summary>
public sealed class PreDataWavesTests
{
    private static ArchiveEntry E(int id, string kind, ArchiveSection section, params int[] dependencies) =>
        new(id, kind, "s", "o" + id, "postgres", section, 0, (uint)id, dependencies, $"-- {kind} {id}\n", null, null, false, null);

    /// <summary>A schema, then per table a TABLE, its COMMENT and a VIEW over it, then post-data; TABLE of n tables.</summary>
    private static List<ArchiveEntry> Toc(int tables)
    {
        var toc = new List<ArchiveEntry> { E(1, "ENCODING", ArchiveSection.PreData), E(2, "SCHEMA", ArchiveSection.PreData) };
        var next = 10;
        var ids = new List<int>();
        for (var i = 0; i < tables; i++)
        {
            ids.Add(next);
            toc.Add(E(next++, "TABLE", ArchiveSection.PreData, 2));
            toc.Add(E(next++, "COMMENT", ArchiveSection.None, next - 2));
        }

        toc.AddRange(ids.Select(t => E(next++, "VIEW", ArchiveSection.PreData, t, 2)));
        toc.Add(E(next++, "INDEX", ArchiveSection.PostData, ids[0]));
        toc.Add(E(next, "COMMENT", ArchiveSection.None, next - 1));
        return toc;
    }

    /// <summary>Every entry of every lane after the entries it depends on: in the first wave, or earlier in its own lane.</summary>
    private static void AssertOrdered(IReadOnlyList<IReadOnlyList<IReadOnlyList<ArchiveEntry>>> waves, IReadOnlyList<ArchiveEntry> toc)
    {
        var restored = toc.Where(e => e.Kind == "ENCODING").Select(e => e.Id).ToHashSet();
        foreach (var wave in waves)
        {
            var before = restored.ToHashSet();
            foreach (var lane in wave)
            {
                var seen = before.ToHashSet();
                foreach (var e in lane)
                {
                    Assert.All(e.Dependencies.Where(d => toc.Any(t => t.Id == d && t.Section != ArchiveSection.PostData)), d => Assert.Contains(d, seen));
                    seen.Add(e.Id);
                }

                restored.UnionWith(lane.Select(e => e.Id));
            }
        }
    }

    [Fact]
    public void Should_Restore_What_Many_Depend_On_First_Then_Independent_Groups_Side_By_Side()
    {
        var toc = Toc(1000);

        var waves = PreDataWaves.Plan(toc, lanes: 2)!;

        // The schema alone (every table depends on it), then each table with its comment and its view, in two lanes.
        Assert.Equal(2, waves.Count);
        Assert.Equal([2], waves[0].Single().Select(e => e.Id));
        Assert.Equal(2, waves[1].Count);
        Assert.All(waves[1], lane => Assert.Equal(1500, lane.Count));
        Assert.All(waves[1], lane => Assert.All(lane.Where(e => e.Kind == "COMMENT"), c => Assert.Equal(c.Dependencies[0], lane[lane.ToList().IndexOf(c) - 1].Id)));
        AssertOrdered(waves, toc);
        // Every pre-data entry but ENCODING (which pg_restore takes on its own) once; nothing of post-data.
        Assert.Equal(toc.Where(e => e.Kind is not ("ENCODING" or "INDEX") && e.Id < toc[^2].Id).Select(e => e.Id).Order(), waves.SelectMany(w => w).SelectMany(l => l).Select(e => e.Id).Order());
    }

    [Fact]
    public void Should_Keep_A_Small_Section_Or_One_Lane_In_One_Run()
    {
        Assert.Null(PreDataWaves.Plan(Toc(100), lanes: 2));
        Assert.Null(PreDataWaves.Plan(Toc(1000), lanes: 1));
    }

    [Fact]
    public void Should_Keep_The_Archive_Order_When_An_Entry_Depends_On_A_Later_One()
    {
        var toc = Toc(1000);
        toc[1] = E(2, "SCHEMA", ArchiveSection.PreData, 10);

        Assert.Null(PreDataWaves.Plan(toc, lanes: 2));
    }

    [Fact]
    public void Should_Keep_A_Chain_Of_Views_In_One_Lane_In_Order()
    {
        // Tables, then 150 views over views over the last table: one group, restored in order in one lane.
        var toc = Toc(1000).Where(e => e.Kind != "VIEW").ToList();
        var last = toc.Last(e => e.Kind == "TABLE").Id;
        for (var i = 0; i < 150; i++)
        {
            toc.Insert(toc.Count - 2, E(5000 + i, "VIEW", ArchiveSection.PreData, i == 0 ? last : 5000 + i - 1));
        }

        var waves = PreDataWaves.Plan(toc, lanes: 2)!;

        Assert.Equal(2, waves.Count);
        var chain = waves[1].Single(l => l.Any(e => e.Id == last));
        Assert.Equal([last, last + 1, .. Enumerable.Range(5000, 150)], chain.SkipWhile(e => e.Id != last).Select(e => e.Id));
        Assert.InRange(Math.Abs(PreDataWaves.Cost(waves[1][0]) - PreDataWaves.Cost(waves[1][1])), 0, 5);
        AssertOrdered(waves, toc);
    }

    [Fact]
    public void Should_Put_What_A_Shared_Entry_Depends_On_Before_It_In_The_First_Wave()
    {
        // A type every table uses, in a schema of its own that only the type uses.
        var toc = Toc(1000);
        toc.Insert(2, E(3, "SCHEMA", ArchiveSection.PreData));
        toc.Insert(3, E(4, "TYPE", ArchiveSection.PreData, 3));
        toc = [.. toc.Select(e => e.Kind == "TABLE" ? e with { Dependencies = [2, 4] } : e)];

        var waves = PreDataWaves.Plan(toc, lanes: 2)!;

        Assert.Equal([2, 3, 4], waves[0].Single().Select(e => e.Id));
        AssertOrdered(waves, toc);
    }

    [Fact]
    public void Should_Restore_In_One_Run_What_Hangs_Together()
    {
        // Each table depends on the one before it, with no entry shared by many: one group, nothing to share.
        var toc = Toc(1000).Where(e => e.Kind != "VIEW").ToList();
        var previous = 0;
        toc = [.. toc.Select(e =>
        {
            if (e.Kind != "TABLE")
            {
                return e;
            }

            var chained = e with { Dependencies = previous == 0 ? [] : [previous] };
            previous = e.Id;
            return chained;
        })];

        Assert.Null(PreDataWaves.Plan(toc, lanes: 2));
    }
}

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

    [Fact]
    public void Should_Restore_Each_Wave_After_What_It_Depends_On_With_Comments_After_Their_Objects()
    {
        var toc = Toc(1000);

        var waves = PreDataWaves.Plan(toc, lanes: 2)!;

        // The schema alone, then tables (with their comments) in two lanes, then views in two lanes.
        Assert.Equal(3, waves.Count);
        Assert.Equal([2], waves[0].Single().Select(e => e.Id));
        Assert.Equal(2, waves[1].Count);
        Assert.All(waves[1], lane => Assert.All(lane, e => Assert.Contains(e.Kind, new[] { "TABLE", "COMMENT" })));
        Assert.All(waves[1], lane => Assert.Equal(1000, lane.Count));
        Assert.All(waves[1], lane => Assert.All(lane.Where(e => e.Kind == "COMMENT"), c => Assert.Equal(c.Dependencies[0], lane[lane.ToList().IndexOf(c) - 1].Id)));
        Assert.All(waves[2], lane => Assert.All(lane, e => Assert.Equal("VIEW", e.Kind)));
        Assert.Equal(1000, waves[2].Sum(l => l.Count));
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
    public void Should_Restore_Small_Waves_Next_To_Each_Other_In_One_Run()
    {
        // Tables, then 150 views over views over the last table: each view its own tiny wave.
        var toc = Toc(1000).Where(e => e.Kind != "VIEW").ToList();
        var last = toc.Last(e => e.Kind == "TABLE").Id;
        for (var i = 0; i < 150; i++)
        {
            toc.Insert(toc.Count - 2, E(5000 + i, "VIEW", ArchiveSection.PreData, i == 0 ? last : 5000 + i - 1));
        }

        var waves = PreDataWaves.Plan(toc, lanes: 2)!;

        Assert.Equal(3, waves.Count);
        var views = waves[2].Single();
        Assert.Equal(Enumerable.Range(5000, 150), views.Select(e => e.Id));
    }
}

using PgRelocate.Archives;
using PgRelocate.Runners;

namespace PgRelocate.Restore;

/// <summary>
/// The pre-data section cut for several pg_restore runs at once. pg_restore restores that section in one session,
/// even with --jobs: at thousands of tables it is the longest part of a copy (a round trip and a commit for each
/// CREATE TABLE, on one core of the target). Here it goes in at most two waves. The first, one run, holds what many
/// entries depend on (a schema, a type, a table under many views: an entry with at least <see cref="Shared"/>
/// dependents) and what that depends on in turn. The second holds the rest, which falls apart into groups that
/// depend on nothing in another group (a table with its sequence, its partitions or its views): each group goes
/// whole, in the archive's order, to one of the lanes restored side by side, the largest groups first, each to the
/// lane with least to do. An entry without a section of its own (a comment, a security label, a grant) stays right
/// after the entry it follows, as pg_restore reads it in that entry's section. Waves that follow one another by
/// dependency depth (tables, then the views over them, then the views over those) were measured against this at
/// 1,000 tables: four runs one after another where this has two, and each wave as long as its slowest lane.
/// </summary>
internal static class PreDataWaves
{
    /// <summary>
    /// Unless this much (see <see cref="Cost"/>: 200 tables) can go beside the fullest lane, the section is restored in
    /// one run: another pg_restore costs more than it saves.
    /// </summary>
    public const int MinShared = 800;

    /// <summary>An entry with this many dependents goes in the first wave, so that what depends on it can be split among lanes.</summary>
    public const int Shared = 8;

    /// <summary>Entries pg_restore handles on its own, whatever the list says.</summary>
    private static readonly string[] Special = ["ENCODING", "STDSTRINGS", "SEARCHPATH"];

    /// <summary>
    /// The runs for the pre-data entries of <paramref name="toc"/> (the archive's entries to restore, in its order):
    /// the waves in order, each a list of lanes to restore at once, each lane its entries in restoring order. Null
    /// (the whole section in one run) when there is too little to share, one lane is asked for, everything hangs
    /// together in one group, or the dependencies are not in the archive's order.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<IReadOnlyList<ArchiveEntry>>>? Plan(IReadOnlyList<ArchiveEntry> toc, int lanes)
    {
        ArgumentNullException.ThrowIfNull(toc);
        var units = Units(toc);
        if (lanes < 2 || units.Sum(Cost) < 2 * MinShared || units.Any(u => u[0].Section == ArchiveSection.None) || DependenciesOf(units) is not { } dependencies)
        {
            return null;
        }

        // The first wave: the shared entries and, before them, what they depend on.
        var dependents = new int[units.Count];
        foreach (var on in dependencies.SelectMany(d => d))
        {
            dependents[on]++;
        }

        var first = new bool[units.Count];
        for (var u = units.Count - 1; u >= 0; u--)
        {
            first[u] |= dependents[u] >= Shared;
            if (first[u])
            {
                foreach (var on in dependencies[u])
                {
                    first[on] = true;
                }
            }
        }

        // The groups of the rest: units joined by a dependency neither of them has in the first wave.
        var group = Enumerable.Range(0, units.Count).ToArray();
        int Root(int u)
        {
            while (group[u] != u)
            {
                u = group[u] = group[group[u]];
            }

            return u;
        }

        foreach (var u in Enumerable.Range(0, units.Count).Where(u => !first[u]))
        {
            foreach (var on in dependencies[u].Where(on => !first[on]))
            {
                group[Root(u)] = Root(on);
            }
        }

        var groups = Enumerable.Range(0, units.Count).Where(u => !first[u]).GroupBy(Root)
            .Select(g => (Units: g.ToList(), Cost: g.Sum(u => Cost(units[u])))).OrderByDescending(g => g.Cost);
        var load = new int[lanes];
        var cut = Enumerable.Range(0, lanes).Select(_ => new List<int>()).ToList();
        foreach (var g in groups)
        {
            var lane = Array.IndexOf(load, load.Min());
            cut[lane].AddRange(g.Units);
            load[lane] += g.Cost;
        }

        // Worth another run only when the lanes beside the fullest one take a fair share.
        if (load.Sum() - load.Max() < MinShared)
        {
            return null;
        }

        List<ArchiveEntry> Entries(IEnumerable<int> us) => [.. us.Order().SelectMany(u => units[u])];
        var shared = Entries(Enumerable.Range(0, units.Count).Where(u => first[u]));
        IReadOnlyList<IReadOnlyList<ArchiveEntry>> rest = [.. cut.Where(l => l.Count > 0).Select(Entries)];
        return shared.Count > 0 ? [[shared], rest] : [rest];
    }

    /// <summary>
    /// The pg_restore runs for <see cref="Plan"/>'s waves of <paramref name="archive"/>, each lane's entry list
    /// written into <paramref name="folder"/> and its run named "pre-data WAVE.LANE"; null: the section goes in one run.
    /// </summary>
    public static async Task<IReadOnlyList<IReadOnlyList<PgRestoreCall>>?> CallsAsync(string archive, IReadOnlyList<ArchiveEntry> toc, int lanes, string folder, CancellationToken cancellationToken)
    {
        if (Plan(toc, lanes) is not { } waves)
        {
            return null;
        }

        var runs = new List<IReadOnlyList<PgRestoreCall>>();
        for (var w = 0; w < waves.Count; w++)
        {
            var wave = new List<PgRestoreCall>();
            for (var l = 0; l < waves[w].Count; l++)
            {
                var list = Path.Combine(folder, $"pre-data-{w + 1}-{l + 1}.list");
                await File.WriteAllLinesAsync(list, waves[w][l].Select(e => e.ListLine), cancellationToken);
                wave.Add(new PgRestoreCall($"pre-data {w + 1}.{l + 1}") { Archive = archive, Sections = ArchiveSections.PreData, EntryList = list });
            }

            runs.Add(wave);
        }

        return runs;
    }

    /// <summary>
    /// Runs <paramref name="waves"/> (<see cref="CallsAsync"/>'s, or one wave of one run) in order, the runs of a wave
    /// side by side through <paramref name="run"/>, and says in <paramref name="log"/> when there are several. The
    /// first failure ends them once the other runs of its wave have ended.
    /// </summary>
    /// <returns>What each run returned, in the waves' order.</returns>
    public static async Task<IReadOnlyList<T>> RunAsync<T>(IReadOnlyList<IReadOnlyList<PgRestoreCall>> waves, int lanes, Func<PgRestoreCall, Task<T>> run, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(waves);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(log);
        if (waves.Count > 1 || waves.Any(w => w.Count > 1))
        {
            log($"# pre-data in {waves.Count} waves of up to {lanes} pg_restore runs side by side");
        }

        var results = new List<T>();
        foreach (var wave in waves)
        {
            results.AddRange(await Task.WhenAll(wave.Select(run)));
        }

        return results;
    }

    /// <summary>The pre-data entries as units: an entry with a section, and the entries without one that follow it.</summary>
    private static List<List<ArchiveEntry>> Units(IReadOnlyList<ArchiveEntry> toc)
    {
        var units = new List<List<ArchiveEntry>>();
        // pg_restore reads an entry without a section as in the section of the entry before it (pre-data at the start).
        var section = ArchiveSection.PreData;
        foreach (var e in toc)
        {
            if (e.Section != ArchiveSection.None)
            {
                section = e.Section;
            }

            if (section != ArchiveSection.PreData || Special.Contains(e.Kind))
            {
                continue;
            }

            if (e.Section == ArchiveSection.None && units.Count > 0)
            {
                units[^1].Add(e);
            }
            else
            {
                units.Add([e]);
            }
        }

        return units;
    }

    /// <summary>
    /// What restoring a unit costs, in round trips of a cheap statement such as a comment's. Measured by the
    /// statements' durations on the server at 1,000 tables: CREATE TABLE 0.44 ms, CREATE VIEW 0.24 ms, ATTACH
    /// PARTITION 0.16 ms, CREATE FUNCTION 0.04 ms, each with pg_restore's round trip of about 0.1 ms on top.
    /// </summary>
    internal static int Cost(IEnumerable<ArchiveEntry> unit) => unit.Sum(e => e.Kind switch
    {
        "TABLE" => 4,
        "VIEW" or "MATERIALIZED VIEW" or "TABLE ATTACH" => 2,
        _ => 1,
    });

    /// <summary>
    /// For each unit, the earlier units it depends on (a dependency outside the section is restored already); null
    /// when a unit depends on one after it.
    /// </summary>
    private static List<int[]>? DependenciesOf(List<List<ArchiveEntry>> units)
    {
        var unitOf = new Dictionary<int, int>();
        for (var u = 0; u < units.Count; u++)
        {
            foreach (var e in units[u])
            {
                unitOf[e.Id] = u;
            }
        }

        var dependencies = new List<int[]>(units.Count);
        for (var u = 0; u < units.Count; u++)
        {
            var on = units[u].SelectMany(e => e.Dependencies).Select(d => unitOf.TryGetValue(d, out var o) ? o : u).Where(o => o != u).Distinct().ToArray();
            if (on.Any(o => o > u))
            {
                return null;
            }

            dependencies.Add(on);
        }

        return dependencies;
    }
}

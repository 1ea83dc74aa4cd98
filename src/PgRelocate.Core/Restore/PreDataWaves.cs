using PgRelocate.Archives;
using PgRelocate.Runners;

namespace PgRelocate.Restore;

/// <summary>
/// The pre-data section cut for several pg_restore runs at once. pg_restore restores that section in one session,
/// even with --jobs: at thousands of tables it is the longest part of a copy (a round trip and a commit for each
/// CREATE TABLE, on one core of the target). Here its entries go in waves by their dependencies, each entry one wave
/// after the latest entry it depends on, so that the entries of a wave depend only on earlier waves; each wave is
/// cut into lanes, restored side by side, and the waves follow one another. An entry without a section of its own
/// (a comment, a security label, a grant) stays right after the entry it follows, as pg_restore reads it in that
/// entry's section. A lane takes blocks of consecutive entries in turn, so each lane gets its share of every kind
/// (a function costs a tenth of a table) while neighbours, such as one table's partitions, mostly stay together. A
/// wave too small to share is restored in one run, together with the small waves next to it.
/// </summary>
internal static class PreDataWaves
{
    /// <summary>Below this many entries a wave is restored in one run: another pg_restore costs more than it saves.</summary>
    public const int MinShared = 400;

    /// <summary>Consecutive entries a lane takes at a time.</summary>
    private const int Block = 25;

    /// <summary>Entries pg_restore handles on its own, whatever the list says.</summary>
    private static readonly string[] Special = ["ENCODING", "STDSTRINGS", "SEARCHPATH"];

    /// <summary>
    /// The runs for the pre-data entries of <paramref name="toc"/> (the archive's entries to restore, in its order):
    /// the waves in order, each a list of lanes to restore at once, each lane its entries in restoring order. Null
    /// (the whole section in one run) when there is too little to share, one lane is asked for, or the dependencies
    /// are not in the archive's order.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<IReadOnlyList<ArchiveEntry>>>? Plan(IReadOnlyList<ArchiveEntry> toc, int lanes)
    {
        ArgumentNullException.ThrowIfNull(toc);
        var units = Units(toc);
        if (lanes < 2 || units.Sum(u => u.Count) < 2 * MinShared || units.Any(u => u[0].Section == ArchiveSection.None) || Waves(units) is not { } waves)
        {
            return null;
        }

        var runs = new List<IReadOnlyList<IReadOnlyList<ArchiveEntry>>>();
        List<ArchiveEntry>? serial = null;
        foreach (var wave in waves)
        {
            var count = wave.Sum(u => u.Count);
            if (count < MinShared)
            {
                // Small: restored in one run, after the small wave before it when that is the run before.
                if (serial is null)
                {
                    serial = [];
                    runs.Add([serial]);
                }

                serial.AddRange(wave.SelectMany(u => u));
                continue;
            }

            serial = null;
            var cut = Enumerable.Range(0, lanes).Select(_ => new List<ArchiveEntry>()).ToList();
            var blocks = wave.Chunk(Block).ToList();
            for (var i = 0; i < blocks.Count; i++)
            {
                cut[i % lanes].AddRange(blocks[i].SelectMany(u => u));
            }

            runs.Add([.. cut.Where(l => l.Count > 0)]);
        }

        return runs;
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

    /// <summary>The units in waves, each in the archive's order; null when a unit depends on one after it.</summary>
    private static List<List<List<ArchiveEntry>>>? Waves(List<List<ArchiveEntry>> units)
    {
        var unitOf = new Dictionary<int, int>();
        for (var u = 0; u < units.Count; u++)
        {
            foreach (var e in units[u])
            {
                unitOf[e.Id] = u;
            }
        }

        var wave = new int[units.Count];
        var waves = new List<List<List<ArchiveEntry>>>();
        for (var u = 0; u < units.Count; u++)
        {
            var w = 0;
            foreach (var d in units[u].SelectMany(e => e.Dependencies))
            {
                if (!unitOf.TryGetValue(d, out var on) || on == u)
                {
                    continue;
                }

                if (on > u)
                {
                    return null;
                }

                w = Math.Max(w, wave[on] + 1);
            }

            wave[u] = w;
            while (waves.Count <= w)
            {
                waves.Add([]);
            }

            waves[w].Add(units[u]);
        }

        return waves;
    }
}

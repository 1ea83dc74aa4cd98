namespace PgRelocate.Online.Apply;

/// <summary>
/// Tells a renamed column from a dropped and an added one, which the stream's description alone cannot: the source's
/// catalog numbers each column (attnum) once, a rename keeps its number and place, an added column takes a number
/// above every other (a dropped one's too), and a dropped one leaves its number behind, marked dropped.
/// The target's columns, in their order, lie between the columns both sides still have (whose numbers on the source
/// bound each gap): a column the source has in a gap that ends before its last common column was renamed, never
/// added; one after the last common column was added, or renamed when no dropped column lies there.
/// </summary>
/// <param name="Renamed">The target's old name to the source's new one.</param>
/// <param name="Unsure">
/// Some of the target's last columns were renamed or dropped and others added, and the numbers cannot say which
/// (a dropped column lies there too): carried as dropped and added, the table copied again at a marker.
/// </param>
internal sealed record ColumnRenames(IReadOnlyList<(string From, string To)> Renamed, bool Unsure)
{
    /// <summary>The renames, or null when the numbers cannot say which column became which (the change then stops the follow).</summary>
    /// <param name="target">The target's columns in their order (generated ones left out).</param>
    /// <param name="source">The source table's columns by number: the name, or null for a dropped one (generated ones left out).</param>
    /// <param name="missing">The names the source has and the target lacks.</param>
    /// <param name="extra">The names the target has and the source lacks.</param>
    public static ColumnRenames? Of(IReadOnlyList<string> target, IReadOnlyList<(int Number, string? Name)> source, IReadOnlyCollection<string> missing, IReadOnlyCollection<string> extra)
    {
        var numbers = source.Where(s => s.Name is not null).ToDictionary(s => s.Name!, s => s.Number, StringComparer.Ordinal);
        var renamed = new List<(string, string)>();
        var unsure = false;
        var gap = new List<string>();
        var lower = 0;
        foreach (var name in target.Append(null))
        {
            if (name is not null && extra.Contains(name))
            {
                gap.Add(name);
                continue;
            }

            if (name is not null && !numbers.ContainsKey(name))
            {
                return null;
            }

            var upper = name is null ? int.MaxValue : numbers[name];
            if (upper <= lower)
            {
                return null;
            }

            var come = source.Where(s => s.Number > lower && s.Number < upper && s.Name is not null && missing.Contains(s.Name)).Select(s => s.Name!).ToList();
            var dropped = source.Count(s => s.Number > lower && s.Number < upper && s.Name is null);
            if (gap.Count > 0)
            {
                if (come.Count >= gap.Count && (name is not null ? come.Count == gap.Count : dropped == 0))
                {
                    // Renamed in place (the rest of the last gap's were added after them).
                    renamed.AddRange(gap.Select((g, i) => (g, come[i])));
                }
                else if (come.Count > 0 && name is null)
                {
                    unsure = true;
                }
                else if (come.Count > 0)
                {
                    return null;
                }
            }
            else if (come.Count > 0 && name is not null)
            {
                // A column within the target's own that the target never had.
                return null;
            }

            gap.Clear();
            lower = upper;
        }

        return new ColumnRenames(renamed, unsure);
    }
}

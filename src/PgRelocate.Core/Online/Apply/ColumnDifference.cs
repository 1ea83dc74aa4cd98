using PgRelocate.Errors;

namespace PgRelocate.Online.Apply;

/// <summary>
/// How the source's description of a table and the target's columns disagree: columns the source sends and the
/// target lacks, columns the target has and the source no longer sends, and columns of the server's own types
/// whose type differs (the server's own types have the same OIDs everywhere, so a different OID or modifier is a
/// different type; an extension's or the user's own types have OIDs of each server's, compared by the stream itself
/// when the source describes a table again, see <see cref="Redescribed"/>).
/// </summary>
internal sealed record ColumnDifference(IReadOnlyList<string> Missing, IReadOnlyList<string> Extra, IReadOnlyList<string> Retyped)
{
    public bool Any => Missing.Count > 0 || Extra.Count > 0 || Retyped.Count > 0;

    /// <summary>The target's columns in their order: name to type as the target writes it, OID and modifier (generated ones left out).</summary>
    public IReadOnlyList<(string Name, string Type, uint TypeId, int TypeModifier)> Target { get; init; } = [];

    /// <param name="columns">The target's columns: name to type as the target writes it, OID and modifier (generated ones left out).</param>
    /// <param name="retyped">Columns of the user's or an extension's types the stream shows retyped (<see cref="Redescribed"/>).</param>
    public static ColumnDifference Of(SourceRelation source, IReadOnlyDictionary<string, (string Type, uint TypeId, int TypeModifier)> columns, IReadOnlyList<string>? retyped = null)
    {
        var extra = columns.Keys.Except(source.Columns, StringComparer.Ordinal).ToList();
        var missing = source.Columns.Except(columns.Keys, StringComparer.Ordinal).ToList();
        var builtIn = source.Columns
            .Select((name, i) => (name, i))
            .Where(c => source.TypeIds[c.i] < TargetTable.FirstUserOid && columns.TryGetValue(c.name, out var t) && (t.TypeId != source.TypeIds[c.i] || t.TypeModifier != source.TypeModifiers[c.i]))
            .Select(c => c.name);
        return new ColumnDifference(missing, extra, [.. builtIn.Union((retyped ?? []).Where(columns.ContainsKey), StringComparer.Ordinal)])
        {
            Target = [.. columns.Select(c => (c.Key, c.Value.Type, c.Value.TypeId, c.Value.TypeModifier))],
        };
    }

    /// <summary>
    /// A table described again by the stream (the source altered it): the columns whose type changed, caught here
    /// for a type of the user's or an extension's, where both descriptions come from the same server.
    /// </summary>
    public static IReadOnlyList<string> Redescribed(SourceRelation before, SourceRelation now) =>
        now.Columns
            .Select((name, i) => (name, i))
            .Where(c => before.Columns.ToList().IndexOf(c.name) is var j && j >= 0 && (before.TypeIds[j] != now.TypeIds[c.i] || before.TypeModifiers[j] != now.TypeModifiers[c.i]))
            .Select(c => c.name)
            .ToList();

    /// <summary>As <see cref="Redescribed"/>, for a follow that does not carry schema changes: a changed type stops it.</summary>
    /// <exception cref="PgRelocateException">A column's type changed.</exception>
    public static void CheckRedescribed(SourceRelation before, SourceRelation now)
    {
        if (Redescribed(before, now) is [_, ..] retyped)
        {
            throw TargetTable.SchemaChanged(now, $"the type of {Sentences.Plural(retyped.Count, "column")} {string.Join(", ", retyped)} of {now.Display} changed on the source");
        }
    }
}

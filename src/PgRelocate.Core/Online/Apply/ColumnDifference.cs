namespace PgRelocate.Online.Apply;

/// <summary>
/// How the source's description of a table and the target's columns disagree: columns the source sends and the
/// target lacks, columns the target has and the source no longer sends, and columns of the server's own types
/// whose type differs (the server's own types have the same OIDs everywhere, so a different OID or modifier is a
/// different type; an extension's or the user's own types have OIDs of each server's, compared by the stream itself
/// when the source describes a table again, see <see cref="TargetTable.CheckRedescribed"/>).
/// </summary>
internal sealed record ColumnDifference(IReadOnlyList<string> Missing, IReadOnlyList<string> Extra, IReadOnlyList<string> Retyped)
{
    public bool Any => Missing.Count > 0 || Extra.Count > 0 || Retyped.Count > 0;

    /// <param name="columns">The target's columns: name to type as the target writes it, OID and modifier (generated ones left out).</param>
    public static ColumnDifference Of(SourceRelation source, IReadOnlyDictionary<string, (string Type, uint TypeId, int TypeModifier)> columns)
    {
        var extra = columns.Keys.Except(source.Columns, StringComparer.Ordinal).ToList();
        var missing = source.Columns.Except(columns.Keys, StringComparer.Ordinal).ToList();
        var retyped = source.Columns
            .Select((name, i) => (name, i))
            .Where(c => source.TypeIds[c.i] < TargetTable.FirstUserOid && columns.TryGetValue(c.name, out var t) && (t.TypeId != source.TypeIds[c.i] || t.TypeModifier != source.TypeModifiers[c.i]))
            .Select(c => c.name)
            .ToList();
        return new ColumnDifference(missing, extra, retyped);
    }
}

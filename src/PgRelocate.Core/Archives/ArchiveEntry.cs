using System.Globalization;

namespace PgRelocate.Archives;

/// <summary>
/// One entry of the table of contents as pg_dump wrote it. <see cref="Kind"/> is pg_dump's <c>desc</c>
/// ("TABLE", "TABLE DATA", "INDEX", "CONSTRAINT", "FK CONSTRAINT", "EXTENSION", "COMMENT", "SEQUENCE SET",
/// "BLOBS", "LARGE OBJECT", ...); names are as stored, unquoted, so a schema named <c>Sales Dept</c> stays one
/// name instead of two words of a <c>pg_restore --list</c> line.
/// </summary>
internal sealed record ArchiveEntry(
    int Id,
    string Kind,
    string? Schema,
    string Tag,
    string? Owner,
    ArchiveSection Section,
    uint CatalogId,
    uint ObjectId,
    IReadOnlyList<int> Dependencies,
    string Definition,
    string? DropStatement,
    string? CopyStatement,
    bool HasData,
    long? DataOffset)
{
    /// <summary>"schema.tag" unquoted, as pg_restore's verbose lines name a table; the tag alone when there is no schema.</summary>
    public string QualifiedTag => Schema is null ? Tag : Schema + "." + Tag;

    /// <summary>
    /// The entry as one line of a list for <c>pg_restore --use-list</c>, in the shape <c>pg_restore --list</c>
    /// prints: "id; catalog-oid object-oid kind schema-or-dash tag owner". pg_restore reads only the leading id;
    /// the rest is for people, so line breaks and ';' in names become spaces and the line stays one line.
    /// </summary>
    public string ListLine => string.Create(
        CultureInfo.InvariantCulture,
        $"{Id}; {CatalogId} {ObjectId} {OneLine(Kind)} {OneLine(Schema ?? "-")} {OneLine(Tag)} {OneLine(Owner ?? "")}");

    /// <summary>"TABLE DATA sales.orders": how one-line messages name the entry (line breaks become spaces).</summary>
    public override string ToString() => OneLine($"{Kind} {QualifiedTag}");

    private static string OneLine(string s) =>
        s.AsSpan().IndexOfAny('\n', '\r', ';') < 0 ? s : s.Replace('\n', ' ').Replace('\r', ' ').Replace(';', ' ');
}

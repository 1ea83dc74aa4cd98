using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>
/// A table whose rows are copied: an ordinary table, a leaf partition or an inheritance child (never a
/// partitioned parent, which holds no rows). <see cref="Columns"/> are quoted and leave out generated
/// columns, which the target computes itself. <see cref="TotalBytes"/> is the work estimate that orders the
/// copy (see <see cref="SourceSnapshot"/>): a table with costly indexes to build must start early even when
/// its rows are fewer.
/// </summary>
internal sealed record CopyTable(uint Oid, string Schema, string Name, IReadOnlyList<string> Columns, long HeapBytes, long TotalBytes, long EstimatedRows)
{
    /// <summary>Whether the rows can travel in binary format (see <see cref="SourceSnapshot"/>); otherwise text.</summary>
    public bool Binary { get; init; } = true;

    /// <summary>
    /// For a configuration table of an extension (whose own rows the target's extension already has): the
    /// condition pg_dump selects the rows to move with ("WHERE ...", or empty for all). Only those rows are
    /// copied, and on the target they replace the rows the same condition selects. Null for the database's own tables.
    /// </summary>
    public string? ConfigCondition { get; init; }

    public string Format => Binary ? "binary" : "text";

    public string Qualified => Db.Qualified(Schema, Name);

    public string Display => Schema + "." + Name;

    /// <summary>" (a, b, c)", or nothing for a table with no copyable column (COPY refuses an empty list).</summary>
    public string ColumnList => Columns.Count == 0 ? "" : " (" + string.Join(", ", Columns) + ")";
}

/// <summary>
/// One unit of data work: a whole table, a range of its heap pages (<c>[FromPage, ToPage)</c>, open-ended when
/// <see cref="ToPage"/> is null), or a batch of large objects.
/// </summary>
internal sealed record DataChunk(CopyTable? Table, long? FromPage, long? ToPage, IReadOnlyList<uint> LargeObjects, long EstimatedBytes)
{
    public bool IsWholeTable => Table is not null && FromPage is null;

    public static DataChunk Whole(CopyTable table) => new(table, null, null, [], table.TotalBytes);

    public static DataChunk Range(CopyTable table, long from, long? to, long bytes) => new(table, from, to, [], bytes);

    public static DataChunk Objects(IReadOnlyList<uint> oids, long bytes) => new(null, null, null, oids, bytes);
}

/// <summary>A primary key or unique constraint and the definition of the unique index behind it.</summary>
internal sealed record KeyConstraint(uint Oid, string Name, bool IsPrimaryKey, bool Deferrable, bool Deferred, string IndexName, string IndexDefinition)
{
    /// <summary>The statement that makes the index the constraint of table <paramref name="qualified"/>.</summary>
    public string Attach(string qualified) =>
        $"ALTER TABLE ONLY {qualified} ADD CONSTRAINT {Db.Ident(Name)} {(IsPrimaryKey ? "PRIMARY KEY" : "UNIQUE")} USING INDEX {Db.Ident(IndexName)}"
        + (Deferrable ? " DEFERRABLE" : "") + (Deferred ? " INITIALLY DEFERRED" : "");
}

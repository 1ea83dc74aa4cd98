namespace PgRelocate.Online;

/// <summary>
/// A source table as the change stream describes it: its columns in the order rows carry them, their types
/// (the source's type OIDs and modifiers) and which form its key.
/// </summary>
public sealed record SourceRelation(uint Id, string Schema, string Name, IReadOnlyList<string> Columns, IReadOnlyList<bool> Key, IReadOnlyList<uint> TypeIds, IReadOnlyList<int> TypeModifiers)
{
    public string Display => Schema + "." + Name;
}

/// <summary>
/// One row's values as text, as pgoutput sends them; <see cref="Unchanged"/> marks TOASTed values an UPDATE
/// left alone, which the stream does not carry (the target keeps its own).
/// </summary>
public sealed record RowValues(string?[] Values, bool[] Unchanged);

/// <summary>What the reader hands the applier, in the source's commit order.</summary>
public abstract record Change;

public sealed record BeginChange(ulong CommitLsn, DateTime CommitTime) : Change;

public sealed record CommitChange(ulong CommitLsn, ulong EndLsn, DateTime CommitTime) : Change;

public sealed record InsertChange(SourceRelation Relation, RowValues New) : Change;

/// <summary>An UPDATE: <see cref="Old"/> is null when the key did not change (the new row carries it), else the old key or, with REPLICA IDENTITY FULL, the whole old row.</summary>
public sealed record UpdateChange(SourceRelation Relation, RowValues? Old, bool OldIsFullRow, RowValues New) : Change;

public sealed record DeleteChange(SourceRelation Relation, RowValues Old, bool OldIsFullRow) : Change;

public sealed record TruncateChange(IReadOnlyList<SourceRelation> Relations, bool Cascade, bool RestartIdentity) : Change;

/// <summary>
/// A marker the tool wrote into the source's WAL (a transactional logical decoding message, PostgreSQL 14 on):
/// it comes in commit order, so once its transaction is applied, so is everything committed before it.
/// </summary>
public sealed record MarkerChange(string Content) : Change;

namespace PgRelocate.Online;

/// <summary>
/// A source table as the change stream describes it: its columns in the order rows carry them, their types
/// (the source's type OIDs and modifiers) and which form its key.
/// </summary>
internal sealed record SourceRelation(uint Id, string Schema, string Name, IReadOnlyList<string> Columns, IReadOnlyList<bool> Key, IReadOnlyList<uint> TypeIds, IReadOnlyList<int> TypeModifiers)
{
    public string Display => Schema + "." + Name;
}

/// <summary>
/// One row's values as text, as pgoutput sends them; <see cref="Unchanged"/> marks TOASTed values an UPDATE
/// left alone, which the stream does not carry (the target keeps its own).
/// </summary>
internal sealed record RowValues(string?[] Values, bool[] Unchanged);

/// <summary>What the reader hands the applier, in the source's commit order.</summary>
internal abstract record Change;

internal sealed record BeginChange(ulong CommitLsn, DateTime CommitTime) : Change;

internal sealed record CommitChange(ulong CommitLsn, ulong EndLsn, DateTime CommitTime) : Change;

internal sealed record InsertChange(SourceRelation Relation, RowValues New) : Change;

/// <summary>An UPDATE: <see cref="Old"/> is null when the key did not change (the new row carries it), else the old key or, with REPLICA IDENTITY FULL, the whole old row.</summary>
internal sealed record UpdateChange(SourceRelation Relation, RowValues? Old, bool OldIsFullRow, RowValues New) : Change;

internal sealed record DeleteChange(SourceRelation Relation, RowValues Old, bool OldIsFullRow) : Change;

internal sealed record TruncateChange(IReadOnlyList<SourceRelation> Relations, bool Cascade, bool RestartIdentity) : Change;

/// <summary>
/// A marker the tool wrote into the source's WAL (a transactional logical decoding message, PostgreSQL 14 on):
/// it comes in commit order, so once its transaction is applied, so is everything committed before it.
/// </summary>
internal sealed record MarkerChange(string Content) : Change;

/// <summary>
/// A change of a large transaction the source sends before it commits (PostgreSQL 14 on): <see cref="Xid"/> is
/// the transaction, <see cref="SubXid"/> the subtransaction the change belongs to (the same when none). Such
/// changes are kept on disk (<see cref="TransactionSpool"/>) until the transaction's end says whether they count.
/// <see cref="Lsn"/> is where the change is in the source's WAL.
/// </summary>
internal sealed record StreamedChange(uint Xid, uint SubXid, Change Change, ulong Lsn = 0) : Change;

/// <summary>A streamed transaction committed: its changes are applied, at this place in the commit order.</summary>
internal sealed record StreamCommitChange(uint Xid, ulong CommitLsn, ulong EndLsn, DateTime CommitTime) : Change;

/// <summary>A streamed transaction (<see cref="SubXid"/> equal to <see cref="Xid"/>) or one of its subtransactions rolled back: its changes are dropped.</summary>
internal sealed record StreamAbortChange(uint Xid, uint SubXid) : Change;

/// <summary>
/// A table of the source the target lacks, created at this place in the commit order (before its first row, or
/// at the marker of its copy): the lane runs <see cref="Statements"/> in its transaction when the target has no
/// <see cref="Qualified"/> table yet. The follow's own, never in the source's stream; the way back's queue holds
/// those of the tables created on the target after the switch. <see cref="Ties"/>: the tables it must share a lane with.
/// <see cref="EmptyWhereThere"/>: the way back's, whose rows follow whole: a copy the old source has already is emptied
/// (by DELETE: a TRUNCATE of it alone fails where a foreign key references it, as one to a partitioned table references
/// each of its partitions).
/// </summary>
internal sealed record TableDefinitionChange(SourceRelation Relation, string Qualified, IReadOnlyList<string> Statements, IReadOnlyList<string> Ties, bool EmptyWhereThere = false) : Change;

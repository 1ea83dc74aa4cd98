namespace PgRelocate.Catalog;

/// <summary>
/// The tool's one schema on a target, for what a run must find again after a crash: the online apply's position
/// and disabled triggers (<c>Online/TargetState</c>) and what a migration's direct copy has committed
/// (<c>Copy/CopyRecord</c>). Each part is written in the same transaction as the work it records, and removed
/// when that work is done with (the copy's at its end, the online state at cutover) or undone by <c>cancel</c>.
/// </summary>
internal static class ToolSchema
{
    public const string Name = "pgrelocate_online";
}

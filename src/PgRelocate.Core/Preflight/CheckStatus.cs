namespace PgRelocate.Preflight;

/// <summary>How a preflight finding affects the migration. Only <see cref="Block"/> stops it.</summary>
public enum CheckStatus
{
    /// <summary>Nothing to do.</summary>
    Ok,

    /// <summary>The migration can go ahead, but something needs a decision or a manual step.</summary>
    Warn,

    /// <summary>A dump and restore would fail or lose data until this is fixed.</summary>
    Block,
}

namespace PgRelocate.Online;

/// <summary>
/// The names an online migration gives what it creates: its replication slot and publication on the source
/// (derived from the migration's id, so `check` can list leftovers and `cancel` can find them), and its schema
/// on the target.
/// </summary>
public static class OnlineNames
{
    /// <summary>Every slot and publication of the tool starts with this.</summary>
    public const string Prefix = "pgrelocate_";

    /// <summary>The target schema holding the applied position and the disabled triggers; dropped at cutover.</summary>
    public const string TargetSchema = Catalog.ToolSchema.Name;

    /// <summary>The prefix of the logical decoding messages the cutover writes to mark the source's last change.</summary>
    public const string MarkerPrefix = "pgrelocate";

    /// <summary>The slot's name: a valid slot name (lower case letters, digits, underscores).</summary>
    public static string Slot(string migrationId) => Prefix + migrationId.ToLowerInvariant().Replace('-', '_');

    public static string Publication(string migrationId) => Slot(migrationId);
}

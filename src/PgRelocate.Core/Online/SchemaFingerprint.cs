using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Online;

/// <summary>
/// A database's schema in two values read in one cheap query (<c>SchemaFingerprint.sql</c>): its objects as
/// <c>pg_dump --schema-only</c> would write them, and its triggers' modes apart, since the follow changes those on
/// the target. Equal values mean no DDL ran between the two reads; rows written, truncated, vacuumed or analyzed do
/// not change them.
/// </summary>
internal sealed record SchemaFingerprint(string Objects, string TriggerModes)
{
    public static async Task<SchemaFingerprint> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var read = await Db.ListAsync(conn, OnlineSql.SchemaFingerprint, r => new SchemaFingerprint(r.GetString(0), r.GetString(1)), cancellationToken);
        return read[0];
    }

    /// <summary>Nothing of the schema changed, the triggers' modes included.</summary>
    public bool Same(SchemaFingerprint other) => SameObjects(other) && TriggerModes == other.TriggerModes;

    /// <summary>Nothing of the schema changed but, maybe, which triggers are enabled.</summary>
    public bool SameObjects(SchemaFingerprint other) => Objects == other.Objects;
}

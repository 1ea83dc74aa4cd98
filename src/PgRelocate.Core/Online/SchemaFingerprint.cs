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
    /// <remarks>
    /// Read without parallel workers (the session's setting: the sessions that read it are the tool's own): each is a
    /// new server process, which reads the catalogs' pages about twice as slowly as one that has read them already,
    /// and the switch reads the fingerprints again, inside the write downtime, on the sessions that read them first.
    /// </remarks>
    public static async Task<SchemaFingerprint> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        // The setting and the read in one round trip: at the switch the fingerprints are read again, and each round trip is downtime.
        var read = await Db.ListAsync(conn, "SET max_parallel_workers_per_gather = 0;\n" + OnlineSql.SchemaFingerprint, r => new SchemaFingerprint(r.GetString(0), r.GetString(1)), cancellationToken);
        return read[0];
    }

    /// <summary>Nothing of the schema changed, the triggers' modes included.</summary>
    public bool Same(SchemaFingerprint other) => SameObjects(other) && TriggerModes == other.TriggerModes;

    /// <summary>Nothing of the schema changed but, maybe, which triggers are enabled.</summary>
    public bool SameObjects(SchemaFingerprint other) => Objects == other.Objects;
}

using Npgsql;
using NpgsqlTypes;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Preflight;

namespace PgRelocate.Online;

/// <summary>A table the publication carries.</summary>
internal sealed record PublishedTable(string Schema, string Name, bool Partitioned, bool Unlogged)
{
    public string Qualified => Db.Qualified(Schema, Name);

    public string Display => Schema + "." + Name;
}

/// <summary>
/// A replication slot named as the tool's and the WAL it keeps on the source; its output plugin and whether the
/// publication of its name is beside it (null: in another database, not seen), which <see cref="OrphanedSlots.IsOurs"/> reads.
/// </summary>
public sealed record ToolSlot(string Name, string Database, bool Active, long RetainedBytes, string? WalStatus, string Plugin, bool? Published);

/// <summary>
/// A replication slot's WAL (SlotLag.sql): the lag past what its consumer confirmed, what it keeps, and from
/// PostgreSQL 13 on the server's word on it (wal_status, safe_wal_size); null before.
/// </summary>
internal sealed record SlotWal(string Name, string Database, bool Active, long LagBytes, long RetainedBytes, string? WalStatus, long? SafeWalSize)
{
    /// <summary>Its output plugin (pgoutput for the tool's).</summary>
    public string Plugin { get; init; } = "";

    /// <summary>Whether a publication of the slot's name is in its database; null when the slot is in another database than the session's.</summary>
    public bool? Published { get; init; }

    /// <summary>The server process streaming from it, when one does.</summary>
    public int? ActivePid { get; init; }
}

/// <summary>
/// What an online migration creates on the source and how it is removed: the publication, the replication
/// slot, REPLICA IDENTITY FULL on tables without a key. Every removal is safe to repeat, so each path that
/// ends a migration (success, failure, cancel, a cancel after a crash) can call it.
/// </summary>
internal static class SourceSide
{
    public static async Task<IReadOnlyList<PublishedTable>> TablesAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await Db.ListAsync(conn, OnlineSql.PublishedTables, r => new PublishedTable(r.GetString(1), r.GetString(2), r.GetString(3) == "p", r.GetString(4) == "u"), cancellationToken);

    /// <summary>The user's unlogged tables ("schema.table", unquoted) and the catalog's estimate of their size: logical decoding never sees their changes.</summary>
    public static async Task<IReadOnlyList<(string Name, long Bytes)>> UnloggedTablesAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await Db.ListAsync(conn, OnlineSql.UnloggedTables, r => (r.GetString(0), r.GetInt64(1)), cancellationToken);

    /// <summary>Tables whose UPDATE and DELETE would fail once published ("schema.table").</summary>
    public static async Task<IReadOnlyList<string>> NoIdentityTablesAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await Db.ListAsync(conn, OnlineSql.NoIdentityTables, r => Db.Qualified(r.GetString(0), r.GetString(1)), cancellationToken);

    /// <summary>Tables created on the source after the publication: their changes would not be replicated.</summary>
    public static async Task<IReadOnlyList<string>> UnpublishedTablesAsync(NpgsqlConnection conn, string publication, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(OnlineSql.UnpublishedTables, conn);
        cmd.Parameters.AddWithValue("publication", publication);
        var list = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(r.GetString(0));
        }

        return list;
    }

    /// <summary>Creates the publication for <paramref name="tables"/> (the unlogged ones left out).</summary>
    public static async Task CreatePublicationAsync(NpgsqlConnection conn, string publication, IReadOnlyList<PublishedTable> tables, CancellationToken cancellationToken)
    {
        var published = tables.Where(t => !t.Unlogged).ToList();
        // A partitioned table publishes each partition's changes as the partition's own (not through the root):
        // a TRUNCATE of one partition is only sent that way, and the target's partitions are the source's, copied
        // from the same snapshot. A partition added later is not on the target and stops the follow, naming it.
        var list = published.Count == 0 ? "" : " FOR TABLE " + string.Join(", ", published.Select(t => (t.Partitioned ? "" : "ONLY ") + t.Qualified));
        try
        {
            await Db.ExecuteAsync(conn, $"CREATE PUBLICATION {Db.Ident(publication)}{list}", cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new PgRelocateException($"Could not create the publication on the source: {e.MessageText}. Connect as the owner of every table (or a role that is a member of the owners). Nothing was changed.", ExitCode.Failed, e);
        }
    }

    /// <summary>
    /// Writes a marker into the source's WAL (a transactional logical decoding message, see
    /// <see cref="MarkerChange"/>), committed after everything committed before it; false when the source is
    /// older than PostgreSQL 14 or the role may not write one (a provider may revoke the function).
    /// </summary>
    public static async Task<bool> TryMarkAsync(NpgsqlConnection conn, string content, CancellationToken cancellationToken)
    {
        if (conn.PostgreSqlVersion.Major < 14)
        {
            return false;
        }

        try
        {
            await Db.ExecuteAsync(conn, $"BEGIN READ WRITE; SELECT pg_catalog.pg_logical_emit_message(true, {Db.Literal(OnlineNames.MarkerPrefix)}, {Db.Literal(content)}); COMMIT", cancellationToken);
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            await Db.ExecuteAsync(conn, "ROLLBACK", cancellationToken);
            return false;
        }
    }

    public static async Task SetReplicaIdentityFullAsync(NpgsqlConnection conn, IEnumerable<string> tables, CancellationToken cancellationToken)
    {
        foreach (var t in tables)
        {
            await Db.ExecuteAsync(conn, $"ALTER TABLE {t} REPLICA IDENTITY FULL", cancellationToken);
        }
    }

    /// <summary>Drops the slot (waiting for a session still streaming from it to end), the publication, and undoes REPLICA IDENTITY FULL.</summary>
    /// <param name="side">Which database this is, for a failure's words: "source", or "target" for the way back's slot.</param>
    public static async Task RemoveAsync(PgConnectionInfo source, string slot, string publication, IEnumerable<string> replicaIdentityFull, CancellationToken cancellationToken, string side = "source")
    {
        await using var conn = await Db.OpenAsync(source, side, cancellationToken);
        await Db.ExecuteAsync(conn, "SET default_transaction_read_only = off", cancellationToken);
        // The streaming session of a process that just stopped may linger for a moment: ended, and the slot dropped
        // once it has gone.
        await TryAgain.TimesAsync(
            20,
            e => e is PostgresException { SqlState: PostgresErrorCodes.ObjectInUse },
            async ct =>
            {
                if (await Db.ScalarAsync<int?>(conn, $"SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = {Db.Literal(slot)}", ct) is { } pid)
                {
                    await Db.ExecuteAsync(conn, $"SELECT pg_catalog.pg_terminate_backend({pid})", ct);
                }

                await Db.ExecuteAsync(conn, $"SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = {Db.Literal(slot)}", ct);
            },
            cancellationToken,
            TimeSpan.FromMilliseconds(250));

        await Db.ExecuteAsync(conn, $"DROP PUBLICATION IF EXISTS {Db.Ident(publication)}", cancellationToken);
        foreach (var t in replicaIdentityFull)
        {
            await Db.ExecuteAsync(conn, $"DO $$ BEGIN IF to_regclass({Db.Literal(t)}) IS NOT NULL THEN ALTER TABLE {t} REPLICA IDENTITY DEFAULT; END IF; END $$", cancellationToken);
        }
    }

    /// <summary>The tool's slots on the source's server and the WAL each holds back.</summary>
    public static async Task<IReadOnlyList<ToolSlot>> ToolSlotsAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        (await SlotsAsync(conn, null, cancellationToken)).Select(s => new ToolSlot(s.Name, s.Database, s.Active, s.RetainedBytes, s.WalStatus, s.Plugin, s.Published)).ToList();

    /// <summary>
    /// The slot <paramref name="slot"/> (none when it is gone), or with null the tool's slots on the server, with
    /// their lag and the WAL they keep (SlotLag.sql, the one query of them).
    /// </summary>
    public static async Task<IReadOnlyList<SlotWal>> SlotsAsync(NpgsqlConnection conn, string? slot, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(OnlineSql.SlotLag, conn);
        cmd.Parameters.Add(new NpgsqlParameter("slot", NpgsqlDbType.Text) { Value = (object?)slot ?? DBNull.Value });
        var slots = new List<SlotWal>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            slots.Add(new SlotWal(r.GetString(4), r.GetString(5), r.GetBoolean(6), r.GetInt64(0), r.GetInt64(1),
                r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetInt64(3))
            {
                Plugin = r.GetString(7),
                Published = r.IsDBNull(8) ? null : r.GetBoolean(8),
                ActivePid = r.IsDBNull(9) ? null : r.GetInt32(9),
            });
        }

        return slots;
    }
}

using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// The lock a migration holds on its target for as long as it runs, so that two migrations (or a migration
/// and a restore) never write into one database at once: a session-level advisory lock in the two-key form,
/// <c>pg_try_advisory_lock(1885827685, 1819239265)</c> ("pgre", "loca"), taken by a session whose
/// application_name starts with "pgrelocate". It lasts as long as that session, so a crashed run leaves none.
/// </summary>
internal static class MigrationLock
{
    public const int ClassId = 1885827685;

    public const int ObjectId = 1819239265;

    /// <summary>Takes the lock for this session, without waiting; false when another session holds it.</summary>
    public static async Task<bool> TryAcquireAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<bool>(conn, $"SELECT pg_catalog.pg_try_advisory_lock({ClassId}, {ObjectId})", cancellationToken);

    public static Task ReleaseAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ExecuteAsync(conn, $"SELECT pg_catalog.pg_advisory_unlock({ClassId}, {ObjectId})", cancellationToken);

    /// <summary>The sessions holding the lock on this database, other than <paramref name="except"/> (the caller's own migration).</summary>
    public static async Task<List<SessionInfo>> HoldersAsync(NpgsqlConnection conn, IReadOnlyCollection<int> except, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(CatalogSql.Load("MigrationLockHolders.sql"), conn);
        cmd.Parameters.AddWithValue("class", (long)ClassId);
        cmd.Parameters.AddWithValue("object", (long)ObjectId);
        cmd.Parameters.AddWithValue("except", except.ToArray());
        var pids = new List<int>();
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                pids.Add(r.GetInt32(0));
            }
        }

        return await ServerSessions.DescribeAsync(conn, pids, cancellationToken);
    }
}

using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// Which database a connection reached, whatever URL led there: the cluster's system identifier (set by
/// initdb, kept by every copy of its files) and the database's oid. Two URLs (a host name and an address, a
/// pooler and the server) reach the same database exactly when both match.
/// </summary>
public sealed record DatabaseIdentity(string SystemIdentifier, uint DatabaseOid, string Database)
{
    public static Task<DatabaseIdentity> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.SingleAsync(conn, CatalogSql.Load("Catalog/DatabaseIdentity.sql"), r => new DatabaseIdentity(r.GetString(0), r.GetFieldValue<uint>(1), r.GetString(2)), cancellationToken);

    /// <summary>The identity, or null where pg_control_system() is not granted to the login role.</summary>
    public static async Task<DatabaseIdentity?> TryReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadAsync(conn, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the two connections reached the same database: the one test of it. False when either server
    /// will not say (pg_control_system() not granted).
    /// </summary>
    public static async Task<bool> SameDatabaseAsync(NpgsqlConnection a, NpgsqlConnection b, CancellationToken cancellationToken) =>
        await TryReadAsync(a, cancellationToken) is { } first && first == await TryReadAsync(b, cancellationToken);
}

using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>A server's version, as server_version_num (150004) and server_version ("15.4 (Debian ...)").</summary>
internal sealed record ServerVersion(int Number, string Text)
{
    public int Major => Number / 10000;

    public int Minor => Number % 10000;

    public string MajorMinor => $"{Major}.{Minor}";

    /// <summary>The one way the version is read: both settings in one round trip.</summary>
    public static Task<ServerVersion> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.SingleAsync(conn, "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
            r => new ServerVersion(r.GetInt32(0), r.GetString(1)), cancellationToken);
}

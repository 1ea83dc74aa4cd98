using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// Whether a database can take writes, and how many more connections the login role may open to it: the
/// server's slots (max_connections less the reserved ones, unless a superuser), the role's connection limit
/// and the database's, each less what already uses it. The connection that asked counts as in use.
/// </summary>
internal sealed record ServerState(
    bool DefaultReadOnly, bool TransactionReadOnly, bool InRecovery,
    int MaxConnections, int Reserved, int InUse, bool Superuser,
    int RoleLimit, int RoleInUse, int DatabaseLimit, int DatabaseInUse)
{
    public static Task<ServerState> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.SingleAsync(conn, CatalogSql.Load("ServerState.sql"), r => new ServerState(
            r.GetBoolean(0), r.GetBoolean(1), r.GetBoolean(2), r.GetInt32(3), r.GetInt32(4), r.GetInt32(5),
            r.GetBoolean(6), r.GetInt32(7), r.GetInt32(8), r.GetInt32(9), r.GetInt32(10)), cancellationToken);

    /// <summary>Why the database takes no writes, or null when it does.</summary>
    public string? ReadOnlyReason =>
        InRecovery ? "it is a standby server (in recovery): it takes no writes"
        : DefaultReadOnly ? "default_transaction_read_only is on"
        : TransactionReadOnly ? "transaction_read_only is on"
        : null;

    /// <summary>The smallest of the limits left, and which one it is.</summary>
    public (int Free, string Limit) FreeSlots
    {
        get
        {
            var server = MaxConnections - (Superuser ? 0 : Reserved) - InUse;
            var limits = new List<(int Free, string Limit)>
            {
                (server, $"max_connections {MaxConnections}{(Superuser ? "" : $" less {Reserved} reserved")}, {InUse} in use"),
            };
            if (RoleLimit >= 0)
            {
                limits.Add((RoleLimit - RoleInUse, $"the login role's CONNECTION LIMIT {RoleLimit}, {RoleInUse} in use"));
            }

            if (DatabaseLimit >= 0)
            {
                limits.Add((DatabaseLimit - DatabaseInUse, $"the database's CONNECTION LIMIT {DatabaseLimit}, {DatabaseInUse} in use"));
            }

            return limits.MinBy(l => l.Free);
        }
    }
}

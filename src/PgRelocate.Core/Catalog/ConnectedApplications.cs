using Npgsql;

namespace PgRelocate.Catalog;

/// <summary>A group of sessions connected to a database: the applications to repoint at cutover.</summary>
public sealed record ConnectedApplication(string Application, string User, string ClientAddress, int Sessions);

internal static class ConnectedApplications
{
    /// <summary>
    /// The application name of the checks' sessions. They are the tool's, not applications to repoint, and the
    /// checks keep one open beside the one that lists the sessions (the tables' sizes, read ahead).
    /// </summary>
    public const string CheckApplicationName = "pgrelocate check";

    /// <summary>
    /// Sessions connected to the current database right now, other than this one, grouped by application
    /// name, user and client address (pg_stat_activity).
    /// </summary>
    public static async Task<IReadOnlyList<ConnectedApplication>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        // client_addr is null for Unix-socket sessions (client_port -1) and, without pg_read_all_stats, for
        // other users' sessions: say which, instead of showing nothing. The tool's own sessions are left out.
        var result = new List<ConnectedApplication>();
        await using var cmd = new NpgsqlCommand(CatalogSql.Load("ConnectedApplications.sql"), conn);
        cmd.Parameters.AddWithValue("check", CheckApplicationName);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add(new ConnectedApplication(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3)));
        }

        return result;
    }
}

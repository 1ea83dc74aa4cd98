using Npgsql;

namespace PgRelocate.Catalog;

/// <summary>A group of sessions connected to a database: the applications to repoint at cutover.</summary>
public sealed record ConnectedApplication(string Application, string User, string ClientAddress, int Sessions);

public static class ConnectedApplications
{
    /// <summary>
    /// Sessions connected to the current database right now, other than this one, grouped by application
    /// name, user and client address (pg_stat_activity). Without pg_read_all_stats a role sees the
    /// application names of its own sessions only; others show as "(hidden)".
    /// </summary>
    public static async Task<IReadOnlyList<ConnectedApplication>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT coalesce(nullif(application_name, ''), '(unnamed)'), coalesce(usename, '(hidden)'),
                   coalesce(host(client_addr), 'local socket'), count(*)::int
            FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            GROUP BY 1, 2, 3
            ORDER BY 4 DESC, 1, 2, 3
            """;
        var result = new List<ConnectedApplication>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add(new ConnectedApplication(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3)));
        }

        return result;
    }
}

using System.Globalization;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// Another session on the server, as a person would recognise it. Of another role's session an ordinary role
/// may see only the pid, the user and the application (<see cref="Hidden"/>): the rest is null.
/// </summary>
internal sealed record SessionInfo(int Pid, string Application, string User, DateTimeOffset? Since, string? State, bool Hidden = false)
{
    public override string ToString()
    {
        if (Hidden)
        {
            return $"session {Pid} (another role's session, user {User}, application '{Application}'; the login role may not see what it is doing)";
        }

        var since = Since is { } at ? string.Create(CultureInfo.InvariantCulture, $", since {at.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC") : "";
        return $"session {Pid} (application '{Application}', user {User}{since}, {State ?? "?"})";
    }
}

/// <summary>Other sessions: the ones that hold a lock another waits for (pg_blocking_pids), described from pg_stat_activity.</summary>
internal static class ServerSessions
{
    public static async Task<List<SessionInfo>> DescribeAsync(NpgsqlConnection conn, IReadOnlyCollection<int> pids, CancellationToken cancellationToken)
    {
        if (pids.Count == 0)
        {
            return [];
        }

        await using var cmd = new NpgsqlCommand(CatalogSql.Load("Sessions.sql"), conn);
        cmd.Parameters.AddWithValue("pids", pids.ToArray());
        var result = new List<SessionInfo>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add(new SessionInfo(r.GetInt32(0), r.GetString(1), r.GetString(2),
                r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3), r.NullableString(4), r.GetBoolean(5)));
        }

        return result;
    }

    /// <summary>The sessions holding the locks that session <paramref name="pid"/> waits for; none when it waits for nothing.</summary>
    public static async Task<List<SessionInfo>> BlockingAsync(NpgsqlConnection conn, int pid, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_catalog.pg_blocking_pids(@pid)", conn);
        cmd.Parameters.AddWithValue("pid", pid);
        var pids = (int[]?)await cmd.ExecuteScalarAsync(cancellationToken) ?? [];
        return await DescribeAsync(conn, pids, cancellationToken);
    }
}

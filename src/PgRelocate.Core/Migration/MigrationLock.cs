using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Migration;

/// <summary>
/// One migration at a time per database: a session-level advisory lock held, for the whole run, on a
/// connection of its own whose application_name names the migration, so a second migration into the same
/// target (or out of the same read-only source) is refused with the first one's id. The server releases the
/// lock when that connection ends, so a killed migration never leaves it behind.
/// </summary>
public sealed class MigrationLock : IAsyncDisposable
{
    /// <summary>The lock's two keys: "pgre" and "lock" as 32-bit integers, the same in every version.</summary>
    public const int Key1 = 1885827685;
    public const int Key2 = 1819239265;

    private const string Prefix = "pgrelocate migration ";

    private readonly List<NpgsqlConnection> _connections = [];

    private MigrationLock()
    {
    }

    /// <summary>The application_name of the session holding the lock for migration <paramref name="id"/>.</summary>
    public static string ApplicationName(string id) => Prefix + id;

    /// <summary>Takes the lock on each of <paramref name="databases"/> (role, connection), in order.</summary>
    /// <exception cref="MigrationLockedException">Another migration holds it on one of them; nothing is held.</exception>
    public static async Task<MigrationLock> AcquireAsync(string id, IEnumerable<(string Role, PgConnectionInfo Info)> databases, CancellationToken cancellationToken)
    {
        var held = new MigrationLock();
        try
        {
            foreach (var (role, info) in databases)
            {
                var conn = await Db.OpenAsync(info.WithApplicationName(ApplicationName(id)), role, cancellationToken);
                held._connections.Add(conn);
                if (!await Db.ScalarAsync<bool>(conn, $"SELECT pg_try_advisory_lock({Key1}, {Key2})", cancellationToken))
                {
                    throw await RefusedAsync(conn, role, info, cancellationToken);
                }
            }

            return held;
        }
        catch
        {
            await held.DisposeAsync();
            throw;
        }
    }

    /// <summary>Ends the lock sessions, which releases the locks.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var conn in _connections)
        {
            await conn.DisposeAsync();
        }

        _connections.Clear();
    }

    private static async Task<MigrationLockedException> RefusedAsync(NpgsqlConnection conn, string role, PgConnectionInfo info, CancellationToken cancellationToken)
    {
        var holder = await Db.ScalarAsync<string>(conn, $"""
            SELECT coalesce(a.application_name, '') || '|' || l.pid
            FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {Key1} AND l.objid = {Key2} AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            LIMIT 1
            """, cancellationToken) ?? "|?";
        var application = holder[..holder.LastIndexOf('|')];
        var pid = holder[(holder.LastIndexOf('|') + 1)..];
        if (application.StartsWith(Prefix, StringComparison.Ordinal))
        {
            var other = application[Prefix.Length..];
            return new MigrationLockedException(
                $"Migration {other} is already running on the {role} ({info.Display}): one migration at a time per database. Wait for it ('pgrelocate status {other}') or stop it ('pgrelocate cancel {other}'), then try again. Nothing was changed.",
                other);
        }

        return new MigrationLockedException(
            $"Another session (server process {pid}{(application.Length > 0 ? $", application '{application}'" : "")}) holds PgRelocate's migration lock on the {role} ({info.Display}): end it, then try again. Nothing was changed.",
            null);
    }
}

/// <summary>A migration refused because another one holds the lock; <see cref="OtherId"/> names it when known.</summary>
public sealed class MigrationLockedException(string message, string? otherId) : PgRelocateException(message)
{
    public string? OtherId { get; } = otherId;
}

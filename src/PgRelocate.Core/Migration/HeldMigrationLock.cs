using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Migration;

/// <summary>
/// One migration at a time per database: the catalog's <see cref="MigrationLock"/> held, for the whole run, on
/// a connection of its own whose application_name names the migration, so a second migration into the same
/// target (or out of the same read-only source) is refused with the first one's id. The server releases the
/// lock when that connection ends, so a killed migration never leaves it behind.
/// </summary>
public sealed class HeldMigrationLock : IAsyncDisposable
{
    private const string Prefix = "pgrelocate migration ";

    private readonly List<NpgsqlConnection> _connections = [];

    private HeldMigrationLock()
    {
    }

    /// <summary>The server processes of the lock's sessions: the target preparation must not take them for another migration.</summary>
    public IReadOnlyCollection<int> SessionIds => [.. _connections.Select(c => c.ProcessID)];

    /// <summary>The application_name of the session holding the lock for migration <paramref name="id"/>.</summary>
    public static string ApplicationName(string id) => Prefix + id;

    /// <summary>
    /// The application_name of migration <paramref name="id"/>'s other sessions doing <paramref name="work"/> (its copy's):
    /// the lists of applications connected to the source leave them out, as they leave out the lock's.
    /// </summary>
    public static string ApplicationName(string id, string work) => Prefix + id + " " + work;

    /// <summary>Takes the lock on each of <paramref name="databases"/> (role, connection), in order.</summary>
    /// <exception cref="MigrationLockedException">Another migration holds it on one of them; nothing is held.</exception>
    public static async Task<HeldMigrationLock> AcquireAsync(string id, IEnumerable<(string Role, PgConnectionInfo Info)> databases, CancellationToken cancellationToken)
    {
        var held = new HeldMigrationLock();
        try
        {
            foreach (var (role, info) in databases)
            {
                var conn = await Db.OpenAsync(info.WithApplicationName(ApplicationName(id)), role, SessionOptions.BuiltInTypes, cancellationToken);
                held._connections.Add(conn);
                if (!await MigrationLock.TryAcquireAsync(conn, cancellationToken))
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
        var holder = (await MigrationLock.HoldersAsync(conn, [conn.ProcessID], cancellationToken)).FirstOrDefault();
        if (holder is not null && holder.Application.StartsWith(Prefix, StringComparison.Ordinal))
        {
            var other = holder.Application[Prefix.Length..];
            return new MigrationLockedException(
                $"Migration {other} is already running on the {role} ({info.Display}): one migration at a time per database. Wait for it ('pgrelocate status {other}') or stop it ('pgrelocate cancel {other}'), then try again. Nothing was changed.",
                other);
        }

        return new MigrationLockedException(
            $"Another session ({holder?.ToString() ?? "one that has ended since"}) holds PgRelocate's migration lock on the {role} ({info.Display}): end it, then try again. Nothing was changed.",
            null);
    }
}

/// <summary>A migration refused because another one holds the lock; <see cref="OtherId"/> names it when known.</summary>
public sealed class MigrationLockedException(string message, string? otherId) : PgRelocateException(message)
{
    public string? OtherId { get; } = otherId;
}

using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Targets;

namespace PgRelocate.Migration;

/// <summary>
/// One run at a time per database: the catalog's <see cref="MigrationLock"/> held, for the whole run, on a
/// connection of its own whose application_name names the run (a migration by its id, a `restore` or a `copy`
/// by its process), so a second migration, restore or copy into the same target (or a migration out of the same
/// read-only source) is refused naming the first. The server releases the lock when that connection ends, so a
/// killed run never leaves it behind.
/// </summary>
public sealed class HeldMigrationLock : IAsyncDisposable
{
    private const string Prefix = "pgrelocate migration ";

    /// <summary>The application_name of a `restore` or a `copy` holding the lock: "pgrelocate restore (process 1234)".</summary>
    private const string CommandPrefix = "pgrelocate ";

    private const string CommandProcess = " (process ";

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
    /// <exception cref="MigrationLockedException">Another run holds it on one of them; nothing is held.</exception>
    public static Task<HeldMigrationLock> AcquireAsync(string id, IEnumerable<(string Role, PgConnectionInfo Info)> databases, CancellationToken cancellationToken) =>
        AcquireAsync(ApplicationName(id), databases.ToList(), cancellationToken);

    /// <summary>
    /// Takes the lock on the target of <paramref name="command"/> ("restore", "copy") run on its own, named after
    /// this process, and returns the target's options with the lock's session as the run's own.
    /// </summary>
    /// <exception cref="MigrationLockedException">Another run holds the target; nothing is held.</exception>
    public static async Task<(HeldMigrationLock Held, TargetOptions Into)> AcquireForAsync(string command, TargetOptions into, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(into);
        var held = await AcquireAsync(string.Create(CultureInfo.InvariantCulture, $"{CommandPrefix}{command}{CommandProcess}{Environment.ProcessId})"), [("target", into.Connection)], cancellationToken);
        return (held, into with { OwnSessions = held.SessionIds });
    }

    private static async Task<HeldMigrationLock> AcquireAsync(string application, IReadOnlyList<(string Role, PgConnectionInfo Info)> databases, CancellationToken cancellationToken)
    {
        var held = new HeldMigrationLock();
        try
        {
            foreach (var (role, info) in databases)
            {
                var conn = await Db.OpenAsync(info.WithApplicationName(application), role, SessionOptions.BuiltInTypes, cancellationToken);
                held._connections.Add(conn);
                // The holder may be a session that is ending (the previous run's, closing as this one starts: still
                // listed for a moment, idle, or no longer listed): its lock goes with it a moment later. So any
                // refusal is tried again for up to two seconds; a run that really holds the lock is refused then.
                await TryAgain.ForAsync(
                    TimeSpan.FromSeconds(2),
                    e => e is MigrationLockedException,
                    async ct =>
                    {
                        if (!await MigrationLock.TryAcquireAsync(conn, ct))
                        {
                            throw await RefusedAsync(conn, role, info, ct);
                        }
                    },
                    cancellationToken);
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

        if (holder is not null && holder.Application.StartsWith(CommandPrefix, StringComparison.Ordinal) && holder.Application.Contains(CommandProcess, StringComparison.Ordinal))
        {
            // "pgrelocate restore (process 1234)": a restore or a copy run on its own.
            var run = holder.Application[CommandPrefix.Length..];
            var at = run.IndexOf(CommandProcess, StringComparison.Ordinal);
            return new MigrationLockedException(
                $"A 'pgrelocate {run[..at]}' is already writing the {role} ({info.Display}): process {run[(at + CommandProcess.Length)..].TrimEnd(')')}, in {holder}. One run at a time per database: wait for it to finish or stop it, then try again. Nothing was changed.",
                null);
        }

        return new MigrationLockedException(
            $"Another session ({holder?.ToString() ?? "one that has ended since"}) holds PgRelocate's migration lock on the {role} ({info.Display}): end it, then try again. Nothing was changed.",
            null);
    }
}

/// <summary>A run refused because another one holds the lock (exit 2, as every refusal before a change); <see cref="OtherId"/> names a migration when it is one.</summary>
public sealed class MigrationLockedException(string message, string? otherId) : PgRelocateException(message, ExitCode.Usage)
{
    public string? OtherId { get; } = otherId;
}

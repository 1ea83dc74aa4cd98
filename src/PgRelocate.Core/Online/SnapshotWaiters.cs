using Npgsql;
using NpgsqlTypes;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online;

/// <summary>
/// The verification while following gives way to the source's sessions that wait for its snapshot to end
/// (<c>SnapshotWaiters.sql</c>): it looks every second while it compares and, on finding one, cancels the comparison;
/// the caller lets the snapshot go and verifies again at a new position. Without it, a <c>DETACH PARTITION …
/// FINALIZE</c> run on the source while the comparison held its snapshot took its partition's ACCESS EXCLUSIVE lock,
/// then waited for the snapshot; the comparison came to the partition and waited for the lock; and both waited for
/// ever, the application's statement included: the server sees no cycle, as it goes through the tool. An index
/// built concurrently waits so too: it no longer waits for the whole comparison.
/// </summary>
internal static class SnapshotWaiters
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    private static readonly string Sql = CatalogSql.Load("Online/SnapshotWaiters.sql");

    /// <summary>The programs whose sessions hold the verification's snapshot: its slot's connection and the comparison's.</summary>
    private static readonly string[] Holders = [VerificationSnapshot.ApplicationName, Verify.Sessions.ApplicationName];

    /// <summary>
    /// Looks for a session waiting for the verification's snapshot until <paramref name="comparing"/> ends; cancels
    /// <paramref name="comparison"/> on finding one.
    /// </summary>
    /// <returns>The session that waited, said as "session 123 (ALTER TABLE …)"; null when the comparison ended first.</returns>
    public static async Task<string?> WatchAsync(PgConnectionInfo source, Task comparing, CancellationTokenSource comparison, CancellationToken cancellationToken)
    {
        NpgsqlConnection? conn = null;
        try
        {
            while (!comparing.IsCompleted && !cancellationToken.IsCancellationRequested)
            {
                await Task.WhenAny(comparing, Task.Delay(Every, cancellationToken));
                if (comparing.IsCompleted || cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                try
                {
                    conn ??= await Db.OpenAsync(source.WithApplicationName("pgrelocate online watch"), "source", cancellationToken);
                    await using var cmd = new NpgsqlCommand(Sql, conn);
                    cmd.Parameters.AddWithValue("holders", NpgsqlDbType.Array | NpgsqlDbType.Text, Holders);
                    await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
                    if (await reader.ReadAsync(cancellationToken))
                    {
                        var waiter = reader.GetString(1) is { Length: > 0 } query ? $"session {reader.GetInt32(0)} ({Statement(query)})" : $"session {reader.GetInt32(0)}";
                        await comparison.CancelAsync();
                        return waiter;
                    }
                }
                catch (Exception e) when (e is NpgsqlException or IOException && !cancellationToken.IsCancellationRequested)
                {
                    // A look that failed is taken again a second later (a new session); the comparison fails by itself should the source be gone.
                    await DisposeAsync(conn);
                    conn = null;
                }
            }

            return null;
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or NpgsqlException or IOException)
        {
            // The comparison ended (or the follow stopped) while a look ran.
            return null;
        }
        finally
        {
            await DisposeAsync(conn);
        }
    }

    /// <summary>The statement's kind, from its first words: never its values.</summary>
    private static string Statement(string query)
    {
        var upper = query.ToUpperInvariant();
        return upper.Contains("FINALIZE", StringComparison.Ordinal) ? "DETACH PARTITION … FINALIZE"
            : upper.Contains("DETACH", StringComparison.Ordinal) ? "DETACH PARTITION … CONCURRENTLY"
            : upper.Contains("REINDEX", StringComparison.Ordinal) ? "REINDEX CONCURRENTLY"
            : upper.Contains("INDEX", StringComparison.Ordinal) ? "CREATE INDEX CONCURRENTLY"
            : "a statement that waits for older snapshots";
    }

    private static async Task DisposeAsync(NpgsqlConnection? conn)
    {
        if (conn is not null)
        {
            await conn.DisposeAsync();
        }
    }
}

/// <summary>A session of the source waited for the verification's snapshot: the comparison gave way to it (see <see cref="SnapshotWaiters"/>).</summary>
internal sealed class SnapshotWaitedException(string waiter)
    : Errors.PgRelocateException($"{waiter} on the source waited for the verification's snapshot to end, each time the verification while following took one: let it finish, then resume the migration.")
{
    /// <summary>The session that waited, said as "session 123 (DETACH PARTITION … FINALIZE)".</summary>
    public string Waiter { get; } = waiter;
}

using Npgsql;
using NpgsqlTypes;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online;

/// <summary>
/// The verification while following gives way to the sessions that would otherwise wait for it for ever: it looks
/// every second while it compares and, on finding one, cancels the comparison; the caller lets the snapshot go and
/// verifies again at a new position.
/// <list type="bullet">
/// <item>On the source, a session waiting for its snapshot to end (<c>SnapshotWaiters.sql</c>). Without it, a
/// <c>DETACH PARTITION … FINALIZE</c> run on the source while the comparison held its snapshot took its partition's
/// ACCESS EXCLUSIVE lock, then waited for the snapshot; the comparison came to the partition and waited for the lock;
/// and both waited for ever, the application's statement included: the server sees no cycle, as it goes through the
/// tool. An index built concurrently waits so too: it no longer waits for the whole comparison.</item>
/// <item>On the target, a read of the comparison waiting, in two looks running, for a lock the follow's apply holds
/// (<c>ComparisonWaits.sql</c>): a table's columns carried in a source transaction that also truncates a table. The
/// apply's TRUNCATE waits for the comparison to end (TRUNCATE is not MVCC-safe), with the table altered locked in
/// its open group, and the comparison came to that table: both would wait for ever. A group commits within half a
/// second on a busy source, at once on a quiet one: a read waiting longer than a second waits for such a cycle or for
/// a long source transaction that rewrites the table, and in both the comparison at a later position is sooner done.</item>
/// </list>
/// </summary>
internal static class SnapshotWaiters
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    private static readonly string Sql = CatalogSql.Load("Online/SnapshotWaiters.sql");

    private static readonly string ComparisonWaits = CatalogSql.Load("Online/ComparisonWaits.sql");

    /// <summary>The programs whose sessions hold the verification's snapshot: its slot's connection and the comparison's.</summary>
    private static readonly string[] Holders = [VerificationSnapshot.ApplicationName, Verify.Sessions.ApplicationName];

    /// <summary>
    /// Looks for a session waiting for the verification's snapshot on the source, or for a read of the comparison
    /// waiting for the apply on the target, until <paramref name="comparing"/> ends; cancels <paramref name="comparison"/>
    /// on finding one.
    /// </summary>
    /// <returns>Who waited, said as "session 123 (ALTER TABLE …) on the source waits for the verification's snapshot to end"; null when the comparison ended first.</returns>
    public static async Task<string?> WatchAsync(PgConnectionInfo source, PgConnectionInfo target, Task comparing, CancellationTokenSource comparison, CancellationToken cancellationToken)
    {
        NpgsqlConnection? conn = null, targetConn = null;
        int? waitingBefore = null;
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
                    targetConn ??= await Db.OpenAsync(target.WithApplicationName("pgrelocate online watch"), "target", cancellationToken);
                    var waiter = await SourceWaiterAsync(conn, cancellationToken);
                    var (waiting, holder) = await ComparisonWaitingAsync(targetConn, cancellationToken);
                    if (waiter is null && waiting is not null && waiting == waitingBefore)
                    {
                        waiter = $"the verification's read of a table on the target waits for a lock the follow's apply holds (session {holder})";
                    }

                    waitingBefore = waiting;
                    if (waiter is not null)
                    {
                        await comparison.CancelAsync();
                        return waiter;
                    }
                }
                catch (Exception e) when (e is NpgsqlException or IOException && !cancellationToken.IsCancellationRequested)
                {
                    // A look that failed is taken again a second later (new sessions); the comparison fails by itself should a side be gone.
                    await DisposeAsync(conn);
                    await DisposeAsync(targetConn);
                    (conn, targetConn) = (null, null);
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
            await DisposeAsync(targetConn);
        }
    }

    /// <summary>A session of the source waiting for the verification's snapshot, said as "session 123 (…) on the source waits for the verification's snapshot to end"; null when none waits.</summary>
    private static async Task<string?> SourceWaiterAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(Sql, conn);
        cmd.Parameters.AddWithValue("holders", NpgsqlDbType.Array | NpgsqlDbType.Text, Holders);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetString(1) is { Length: > 0 } query ? $"session {reader.GetInt32(0)} ({Statement(query)})" : $"session {reader.GetInt32(0)}") + " on the source waits for the verification's snapshot to end"
            : null;
    }

    /// <summary>A session of the comparison on the target waiting for a lock the apply holds, and the apply's session holding it; nulls when none waits.</summary>
    private static async Task<(int? Waiting, int? Holder)> ComparisonWaitingAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(ComparisonWaits, conn);
        cmd.Parameters.AddWithValue("comparison", Verify.Sessions.ApplicationName);
        cmd.Parameters.AddWithValue("apply", Follow.FollowSession.ApplyApplicationName + "%");
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt32(0), reader.GetInt32(1)) : (null, null);
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

/// <summary>A session waited for the verification (see <see cref="SnapshotWaiters"/>): the comparison gave way to it.</summary>
internal sealed class SnapshotWaitedException(string waiter)
    : Errors.PgRelocateException($"{waiter}, each time the verification while following compared: let it finish, then resume the migration.")
{
    /// <summary>Who waited, said as "session 123 (DETACH PARTITION … FINALIZE) on the source waits for the verification's snapshot to end".</summary>
    public string Waiter { get; } = waiter;
}

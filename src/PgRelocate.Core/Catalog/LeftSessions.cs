using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Catalog;

/// <summary>
/// What a killed run of a migration left working on its target. The server goes on with a statement whose client
/// died (an index build, an ANALYZE) until it next reads from the client or writes to it, and commits it: a resumed
/// run building the same index collides with it ("duplicate key value violates unique constraint
/// pg_class_relname_nsp_index"), an emptying waits for its locks. Before a migration writes into its target, those
/// sessions are ended (see LeftSessions.sql for how they are told from the sessions of a live run), and waited out
/// where the login role may not end them.
/// </summary>
internal static class LeftSessions
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Ends the sessions killed runs left on <paramref name="target"/>'s database (of migration <paramref name="migrationId"/>,
    /// or of another migration that holds no lock there), other than <paramref name="own"/>, and returns once they
    /// are gone; ends or waits out each for at most <paramref name="patience"/>.
    /// </summary>
    /// <exception cref="PgRelocateException">Some are still there after <paramref name="patience"/>: nothing was written.</exception>
    public static async Task EndAsync(PgConnectionInfo target, string migrationId, IReadOnlyCollection<int> own, TimeSpan patience, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(reporter);
        await using var conn = await Db.OpenAsync(target, "target", SessionOptions.BuiltInTypes, cancellationToken);
        await using var find = new NpgsqlCommand(CatalogSql.Load("LeftSessions.sql"), conn);
        find.Parameters.AddWithValue("id", migrationId);
        find.Parameters.AddWithValue("except", own.ToArray());
        var pids = new List<int>();
        await using (var r = await find.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                pids.Add(r.GetInt32(0));
            }
        }

        if (pids.Count == 0)
        {
            return;
        }

        var sessions = await ServerSessions.DescribeAsync(conn, pids, cancellationToken);
        reporter.Warn($"Ending what an interrupted migration left working on the target ({target.Display}), before anything is written: {string.Join("; ", sessions)}.");
        var refused = new List<int>();
        foreach (var pid in pids)
        {
            try
            {
                await Db.ExecuteAsync(conn, $"SELECT pg_catalog.pg_terminate_backend({pid})", cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                refused.Add(pid);
            }
        }

        if (refused.Count > 0)
        {
            reporter.Warn($"The login role may not end {string.Join(", ", refused.Select(p => $"session {p}"))} on the target: waiting up to {patience.TotalSeconds:0} s for it to end.");
        }

        var deadline = DateTime.UtcNow + patience;
        var left = $"SELECT pid FROM pg_catalog.pg_stat_activity WHERE pid IN ({string.Join(", ", pids)})";
        while (true)
        {
            var still = await Db.ListAsync(conn, left, r => r.GetInt32(0), cancellationToken);
            if (still.Count == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                var described = await ServerSessions.DescribeAsync(conn, still, cancellationToken);
                throw new PgRelocateException(
                    $"An interrupted migration's sessions still work on the target ({target.Display}): {string.Join("; ", described)}. End them ({string.Join(", ", still.Select(p => $"SELECT pg_terminate_backend({p})"))}, as a role allowed to) or wait for them to finish, then try again: nothing was written to the target.");
            }

            await Task.Delay(Poll, cancellationToken);
        }
    }
}

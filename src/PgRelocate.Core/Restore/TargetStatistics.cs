using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Restore;

/// <summary>Planner statistics for a freshly loaded database, so the first queries after the cutover are not planned blind.</summary>
internal static class TargetStatistics
{
    /// <summary>ANALYZE of every table but those already <paramref name="analyzed"/>, largest first, on as many sessions as the restore had jobs.</summary>
    public static async Task AnalyzeAsync(PgConnectionInfo target, int jobs, IReporter reporter, CancellationToken cancellationToken, IReadOnlyCollection<(string Schema, string Name)>? analyzed = null)
    {
        var skip = (analyzed ?? []).ToHashSet();
        var tables = new List<string>();
        await using (var conn = await Db.OpenAsync(target, "target", cancellationToken))
        {
            await using var cmd = new Npgsql.NpgsqlCommand(
                "SELECT format('%I.%I', nspname, relname), nspname, relname FROM (" + Catalog.DatabaseFacts.UserTablesSql + ") t ORDER BY bytes DESC", conn);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                if (!skip.Contains((r.GetString(1), r.GetString(2))))
                {
                    tables.Add(r.GetString(0));
                }
            }
        }

        var done = 0;
        reporter.Progress(new ProgressUpdate("analyze", 0, tables.Count, "tables"));
        var queue = new System.Collections.Concurrent.ConcurrentQueue<string>(tables);
        var workers = Enumerable.Range(0, Math.Clamp(jobs, 1, Math.Max(1, tables.Count))).Select(async _ =>
        {
            await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
            while (queue.TryDequeue(out var table))
            {
                await Db.ExecuteAsync(conn, "ANALYZE " + table, cancellationToken);
                reporter.Progress(new ProgressUpdate("analyze", Interlocked.Increment(ref done), tables.Count, "tables", table));
            }
        });
        await Task.WhenAll(workers);
        reporter.Progress(new ProgressUpdate("analyze", tables.Count, tables.Count, "tables", Finished: true));
    }
}

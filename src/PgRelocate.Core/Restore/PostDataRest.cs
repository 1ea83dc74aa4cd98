using PgRelocate.Archives;

namespace PgRelocate.Restore;

/// <summary>
/// The pg_restore jobs for the rest of post-data, restored after each table's own indexes and keys (foreign keys,
/// triggers, partitioned parents' indexes and their ATTACH entries, materialized views' data). pg_restore's parallel
/// mode costs time before its first statement that grows faster than the archive's table of contents, whatever the
/// run selects (PostgreSQL 15's pg_restore with --jobs 2: 0.8 s at 27,000 entries against 0.06 s serially; the same
/// 8,800 partitioned indexes and ATTACH entries of 20,000 tables in 17.2 s against 1.8 s serially). Jobs pay only
/// where statements do work that grows with the data (a foreign key's check of its rows, a materialized view's
/// query) or wait on a far server's round trips; the rest goes serially.
/// </summary>
internal static class PostDataRest
{
    /// <summary>Entries whose statement reads the data: a foreign key checks every row, a materialized view's data runs its query.</summary>
    public static bool ScalesWithData(ArchiveEntry entry) => entry.Kind is "FK CONSTRAINT" or "MATERIALIZED VIEW DATA";

    /// <summary><paramref name="jobs"/> where <paramref name="rest"/> holds work that grows with the data or the server is <paramref name="far"/>; else one.</summary>
    public static int Jobs(IEnumerable<ArchiveEntry> rest, int jobs, bool far) => far || rest.Any(ScalesWithData) ? jobs : 1;

    /// <summary>As <see cref="Jobs"/>, asking <paramref name="far"/> (a round trip measured) only where the entries leave it to decide.</summary>
    public static async Task<int> JobsAsync(IReadOnlyList<ArchiveEntry> rest, int jobs, Func<Task<bool>> far) =>
        jobs == 1 || rest.Any(ScalesWithData) ? jobs : Jobs(rest, jobs, await far());
}

using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Targets;
using PgRelocate.Verify;

namespace PgRelocate.Online.Follow;

/// <summary>
/// The most sessions an online migration opens on its target at once, beyond the migration's lock: the online check
/// and the snapshot copy (before it empties the target) count the target's free connection slots against it, so that a
/// follow does not run out of them hours later, half-switched. The count is an upper bound, phase by phase:
/// <list type="bullet">
/// <item>the snapshot copy: a session per COPY stream and per index build, one of each per job;</item>
/// <item>following: the apply's lanes (one per job, <see cref="FollowSession"/>) and its lane for large transactions
/// streamed before their commit, the guard's watch (<see cref="FollowGuard"/>), the enum values added again after
/// a failure (<see cref="FollowCarry"/>); and the verification while following: its session holding the target's
/// snapshot, the comparison's sessions (one per table compared at once, <see cref="VerifyOptions.ForMigration"/>, and
/// one more reading sequences beside the catalog's read) and the watch that makes it give way (<see cref="SnapshotWaiters"/>);</item>
/// <item>the switch: the lanes and the streamed lane and the guard's watch still open, the schema pass's session and its
/// pg_dump, the switch's own session, and the comparison of the unlogged tables copied again (one session per job,
/// one more beside the catalog's read).</item>
/// </list>
/// </summary>
internal static class FollowTargetSessions
{
    /// <summary>The sessions of an online migration with <paramref name="jobs"/>, each phase counted as above.</summary>
    public static TargetSessions For(int jobs, PgConnectionInfo source, PgConnectionInfo target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        return new TargetSessions(jobs, j => Math.Max(Copy(j), Math.Max(Following(j, source, target), Switch(j))), j => Describe(j, source, target));
    }

    private static int Copy(int jobs) => 2 * jobs;

    // Lanes, streamed lane, guard's watch, enum values; held snapshot, comparisons and sequences, comparison's watch.
    private static int Following(int jobs, PgConnectionInfo source, PgConnectionInfo target) =>
        jobs + 1 + 1 + 1 + 1 + VerifyOptions.ForMigration(jobs, source, target) + 1 + 1;

    // Lanes, streamed lane, guard's watch; schema pass and its pg_dump, the switch's session; unlogged tables' comparison.
    private static int Switch(int jobs) => jobs + 1 + 1 + 2 + 1 + jobs + 1;

    private static string Describe(int jobs, PgConnectionInfo source, PgConnectionInfo target)
    {
        var (copy, following, switching) = (Copy(jobs), Following(jobs, source, target), Switch(jobs));
        var most = Math.Max(copy, Math.Max(following, switching));
        var phase = most == following ? $"following: {Sentences.Counted(jobs, "apply lane")}, the verification's and the watches' sessions"
            : most == switching ? $"the switch: {Sentences.Counted(jobs, "apply lane")}, the schema's pass and the unlogged tables' comparison"
            : $"the snapshot copy: {Sentences.Counted(jobs, "COPY stream")} and {Sentences.Counted(jobs, "index build")}";
        return $"at most, while {phase}";
    }
}

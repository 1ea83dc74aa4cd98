using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Targets;
using PgRelocate.Verify;

namespace PgRelocate.Online.Follow;

/// <summary>
/// The most sessions an online migration opens at once on each side, beyond the migration's own lock: the online
/// check counts both servers' free connection slots against them before the source is touched, and the snapshot copy
/// counts the target's again before it empties it, so that a follow does not run out of them hours later, half-switched,
/// nor take the last of a busy source's from its applications. Each is an upper bound, phase by phase.
/// </summary>
internal static class OnlineSessions
{
    /// <summary>
    /// On the target:
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
    public static SessionCount OnTarget(int jobs, PgConnectionInfo source, PgConnectionInfo target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        return Phases(jobs, j => SessionCount.Copy(j).Needed, j => j + 1 + 1 + 1 + 1 + Compared(j, source, target) + 1 + 1, j => j + 1 + 1 + 2 + 1 + j + 1,
            "COPY streams and index builds", "apply lanes, the verification's and the watches' sessions", "apply lanes, the schema's pass and the unlogged tables' comparison");
    }

    /// <summary>
    /// On the source, counting its replication sessions as sessions (a login role's connection limit counts them; the
    /// server's max_connections does not, from PostgreSQL 12):
    /// <list type="bullet">
    /// <item>the snapshot copy: a session per COPY stream, the snapshot's own, the schema's pg_dump, the session that
    /// asks about the tables' policies, and the replication session holding the snapshot; once the rows are in, the
    /// first verification's replication session and the session writing its marker (<see cref="FirstVerificationSnapshot"/>);</item>
    /// <item>following: the replication session and the verification's (for its snapshot, <see cref="VerificationSnapshot"/>),
    /// the watch (<see cref="SourceWatch"/>), the schema changes' carry and its column reads (<see cref="FollowCarry"/>),
    /// the session that orders the lanes' writes as it opens (<see cref="FollowSession"/>), the verification's own (its
    /// unlogged tables and schema before and after), the comparison's sessions (as on the target) and its watch;</item>
    /// <item>the switch: the replication session, the watch, the carry and its column reads, the switch's session and
    /// the cutover's, the schema pass's session and its pg_dump, and the unlogged tables' comparison (one per job, one
    /// more beside the catalog's read).</item>
    /// </list>
    /// </summary>
    public static SessionCount OnSource(int jobs, PgConnectionInfo source, PgConnectionInfo target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        return Phases(jobs, j => j + 4 + 2, j => 1 + 1 + 1 + 1 + 1 + 1 + 1 + Compared(j, source, target) + 1 + 1, j => 1 + 1 + 2 + 1 + 1 + 2 + j + 1,
            "COPY streams, its snapshot and the schema's dump", "the replication sessions, the verification's and the watches' sessions", "the schema's pass and the unlogged tables' comparison");
    }

    /// <summary>The tables the verification while following compares at once.</summary>
    private static int Compared(int jobs, PgConnectionInfo source, PgConnectionInfo target) => VerifyOptions.ForMigration(jobs, source, target);

    /// <summary>The most of three phases', naming the phase that needs the most.</summary>
    private static SessionCount Phases(int jobs, Func<int, int> copy, Func<int, int> following, Func<int, int> switching, string copyWhat, string followingWhat, string switchingWhat) =>
        new(jobs, j => Math.Max(copy(j), Math.Max(following(j), switching(j))), j =>
        {
            var most = Math.Max(copy(j), Math.Max(following(j), switching(j)));
            var phase = most == following(j) ? $"while following: {followingWhat}"
                : most == switching(j) ? $"at the switch: {switchingWhat}"
                : $"during the snapshot copy: {copyWhat}";
            return $"at most, with {Sentences.Counted(j, "job")}, {phase}";
        });
}

using PgRelocate.Errors;

namespace PgRelocate.Targets;

/// <summary>
/// The sessions a run opens on a server at once (its target's, or an online migration's source), as a function of its
/// --jobs: the server's free connection slots are checked against <see cref="Needed"/>
/// (<see cref="TargetPreparation.ConnectionSlots"/>), and a run that does not fit is told the largest --jobs that does.
/// </summary>
/// <param name="Jobs">The run's --jobs.</param>
/// <param name="ForJobs">The sessions opened at once with that many jobs.</param>
/// <param name="What">What opens them, with that many jobs, for the message: "pg_restore's 4 jobs".</param>
public sealed record SessionCount(int Jobs, Func<int, int> ForJobs, Func<int, string> What)
{
    /// <summary>One session per job: a check's one session.</summary>
    public static SessionCount PerJob(int jobs) => new(jobs, j => j, j => Sentences.Counted(j, "job"));

    /// <summary>
    /// A restore's: pg_restore's jobs; or, <paramref name="scheduled"/> by <c>Restore/ScheduledRestore</c>, a pg_restore
    /// run on each of <see cref="Jobs"/> lanes and one on each of as many index builders, side by side.
    /// </summary>
    public static SessionCount Restore(int jobs, bool scheduled) => scheduled
        ? new(jobs, j => j == 1 ? 1 : 2 * j, j => j == 1 ? "the restore's one session" : $"{Sentences.Counted(j, "lane")} of table rows and {Sentences.Counted(j, "index build")}")
        : new(jobs, j => j, j => $"pg_restore's {Sentences.Counted(j, "job")}");

    /// <summary>A copy's: a session per COPY stream and per index build, <paramref name="indexJobs"/> of them, or one per job when null (a migration's).</summary>
    public static SessionCount Copy(int jobs, int? indexJobs = null) =>
        new(jobs, j => j + (indexJobs ?? j), j => $"{Sentences.Counted(j, "COPY stream")} and {Sentences.Counted(indexJobs ?? j, "index build")}");

    /// <summary>The sessions needed with <see cref="Jobs"/>.</summary>
    public int Needed => ForJobs(Jobs);

    /// <summary>The largest --jobs below <see cref="Jobs"/> whose sessions fit in <paramref name="free"/> slots; null when none does.</summary>
    public int? JobsFitting(int free) =>
        Enumerable.Range(1, Math.Max(0, Jobs - 1)).Reverse().Where(j => ForJobs(j) <= free).Select(j => (int?)j).FirstOrDefault();
}

using System.CommandLine;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// --jobs (-j), how much a command does at once. Declared here once; what a job is differs with the engine a
/// command runs (pg_restore's jobs, COPY streams, tables compared), and so do the help and the default: each form
/// says its own, side by side.
/// </summary>
internal static class JobsOption
{
    /// <summary>restore: pg_restore's jobs.</summary>
    public static readonly Option<int> Restore = Create("Parallel restore jobs; from a URL or store, the archive is downloaded and checked first, then restored in parallel.", 1);

    /// <summary>copy: the COPY streams.</summary>
    public static readonly Option<int> Copy = Create("Parallel COPY streams (each a source and a target session).", 2);

    /// <summary>migrate: the restore's or the copy's, and the online apply's connections.</summary>
    public static readonly Option<int> Migrate = Create("Parallel jobs: the restore's or the copy's, and with --online the connections that apply changes.", 2);

    /// <summary>check: the jobs of the migration checked for, whose connections on the target are counted.</summary>
    public static readonly Option<int> Check = Create("With --online: the --jobs of the migration to come, whose connections the source (and the target) must allow at once.", 2);

    /// <summary>verify: tables compared at once; its default depends on the machine, so none is fixed here.</summary>
    public static readonly Option<int?> Verify = new("--jobs", "-j")
    {
        Description = "Tables compared at once, each on both sides at the same time (default: the number of cores, half of them when both servers run on this machine).",
    };

    private static Option<int> Create(string description, int byDefault) => new("--jobs", "-j")
    {
        Description = description,
        DefaultValueFactory = _ => byDefault,
    };
}

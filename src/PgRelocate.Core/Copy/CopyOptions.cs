using PgRelocate.Connections;
using PgRelocate.Targets;

namespace PgRelocate.Copy;

/// <summary>What <see cref="CopyRunner"/> copies where, and how much in parallel.</summary>
public sealed record CopyOptions
{
    public required PgConnectionInfo Source { get; init; }

    /// <summary>The target, --confirm, --lock-timeout, own sessions, and the jobs: parallel COPY streams (each one a source and a target session).</summary>
    public required TargetOptions Into { get; init; }

    /// <summary>The target database (<see cref="Into"/>'s).</summary>
    public PgConnectionInfo Target => Into.Connection;

    /// <summary>Parallel COPY streams (<see cref="Into"/>'s jobs).</summary>
    public int Jobs => Into.Jobs;

    /// <summary>Parallel index and constraint builds on the target.</summary>
    public int IndexJobs { get; init; } = 2;

    /// <summary>
    /// The sessions the run opens on the target at once, which its free connection slots are checked against before
    /// anything is emptied: a migration's copy counts what its later steps open (an online migration's follow); null:
    /// the copy's own COPY streams and index builds.
    /// </summary>
    public SessionCount? Sessions { get; init; }

    /// <summary>The size above which a table is split when nothing says otherwise (<see cref="SplitSize"/>).</summary>
    public const long DefaultSplit = 256L * 1024 * 1024;

    /// <summary>Tables whose heap is larger than this are copied as several page ranges in parallel; 0 never splits; null: <see cref="SplitSize"/> decides.</summary>
    public long? SplitTablesLargerThan { get; init; }

    /// <summary>
    /// The split size this copy uses: the one given, else <see cref="DefaultSplit"/>, unless <see cref="SharesFewCores"/>:
    /// then a table is copied in one stream, loaded with COPY FREEZE. Ranges side by side only pay where the servers
    /// have cores to spare; on a small machine both servers share with the copy, its other streams and index builds
    /// already use every core, and ranges cost a vacuum afterwards (their rows cannot be loaded frozen) and slower
    /// index builds (measured at pgbench scale 300 on two cores: one stream 88 to 92 s, ranges 108 s).
    /// </summary>
    public long SplitSize => SplitTablesLargerThan ?? (SharesFewCores ? 0 : DefaultSplit);

    /// <summary>Both servers run on this machine (a loopback address or a socket), which has no more than two cores per copy stream.</summary>
    public bool SharesFewCores => Source.IsLocal && Target.IsLocal && Environment.ProcessorCount <= 2 * Jobs;

    /// <summary>
    /// maintenance_work_mem for the target sessions that build B-tree indexes. More is not faster: a sort held whole
    /// in memory runs out of the CPU's caches, where PostgreSQL's sort of smaller runs, merged, stays in them. At
    /// pgbench scale 300 (30 M rows), two builds at once on two cores: keys in order (the primary key, and
    /// (bid, abalance)) 8.9 to 9.1 s with 128 or 256 MB, 9.7 s with 512 MB, 11.3 to 14.2 s with 1 GB; keys in random
    /// order 17.8 to 19.8 s with 256 MB, 19.4 to 21.3 s with 1 GB.
    /// </summary>
    public string MaintenanceWorkMem { get; init; } = DefaultMaintenanceWorkMem;

    /// <summary>The copy's maintenance_work_mem unless told otherwise; the estimate's B-tree sample builds with it too.</summary>
    public const string DefaultMaintenanceWorkMem = "256MB";

    /// <summary>A snapshot exported on the source to copy (an online migration's replication slot's); null: a new one.</summary>
    public string? Snapshot { get; init; }

    /// <summary>
    /// --roles: the roles the source database uses created on the target once its checks pass and before it is
    /// written, the source's owners, grants and default privileges given once the copy is in. A migration leaves
    /// it off: its own roles and owners steps do the same around the copy.
    /// </summary>
    public bool Roles { get; init; }

    /// <summary>--map-role SOURCE=TARGET: with <see cref="Roles"/>, the source's roles renamed on the target.</summary>
    public IReadOnlyDictionary<string, string> RoleRenames { get; init; } = new Dictionary<string, string>();

    /// <summary>--roles-with-privileged-attributes: with <see cref="Roles"/>, the roles created get the source's SUPERUSER, REPLICATION and BYPASSRLS.</summary>
    public bool PrivilegedAttributes { get; init; }

    /// <summary>Where the pg_dump and pg_restore output and every statement's failure are kept.</summary>
    public required string LogPath { get; init; }

    /// <summary>A migration's copy, recorded on the target as it commits so that a resume keeps what is in; null: a rerun starts over.</summary>
    public ResumableCopy? Resumable { get; init; }

    /// <summary>
    /// Stay out of the way of the source's other sessions (an online migration's snapshot copy, whose follow copies
    /// again what this gives up): no table is locked for the whole copy, and a table another session truncates,
    /// rewrites, alters or waits to lock exclusively is given up rather than fail the copy or keep that session waiting
    /// (<see cref="CopyYield"/>; the tables in <see cref="CopyResult.Yielded"/>). False: the copy locks every table
    /// from its start, and stops when a schema change waits for it.
    /// </summary>
    internal bool Yields { get; init; }

    /// <summary>
    /// Told each point the copy passes once it is committed, for fault tests and for the online snapshot copy (which
    /// takes its verification's snapshot at <see cref="RowsIn"/>): "chunk-N" (the N-th table or range of this run),
    /// "index-N" (the N-th index, constraint or ANALYZE), <see cref="RowsIn"/>, "last-section" (sequences set,
    /// post-data about to begin).
    /// </summary>
    internal Action<string>? Milestone { get; init; }

    /// <summary>The <see cref="Milestone"/> at which every row is in; the last table's indexes not yet begun.</summary>
    internal const string RowsIn = "rows-in";
}

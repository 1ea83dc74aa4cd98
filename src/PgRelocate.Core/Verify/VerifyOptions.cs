using PgRelocate.Connections;

namespace PgRelocate.Verify;

/// <summary>How thoroughly table contents are compared.</summary>
public enum VerifyMode
{
    /// <summary>Exact row counts only.</summary>
    Counts,

    /// <summary>A digest of every row (the default): detects changed, missing and extra rows, and locates them.</summary>
    Checksums,
}

/// <summary>What <see cref="Verifier"/> compares, and how.</summary>
public sealed record VerifyOptions
{
    public required PgConnectionInfo Source { get; init; }

    public required PgConnectionInfo Target { get; init; }

    public VerifyMode Mode { get; init; } = VerifyMode.Checksums;

    /// <summary>A snapshot exported on the source to compare the target with (an online migration's paused position); null: the source now.</summary>
    public string? SourceSnapshot { get; init; }

    /// <summary>A snapshot exported on the target (an online migration's target as of that same position, held while the apply goes on); null: the target now.</summary>
    public string? TargetSnapshot { get; init; }

    /// <summary>
    /// Glob patterns (<c>*</c>, <c>?</c>) on <c>schema.table</c>, or on the bare table name when the pattern
    /// has no dot; empty: every table. Schema objects are compared whatever the patterns.
    /// </summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>
    /// Tables (<c>schema.table</c>, exactly) left out whatever the patterns: an online migration's unlogged
    /// tables while it follows, whose changes logical decoding never sees (its cutover copies them again).
    /// </summary>
    public IReadOnlyCollection<string> ExceptTables { get; init; } = [];

    /// <summary>
    /// When set, only these tables (<c>schema.table</c>, exactly) are compared, and no schema objects: the online
    /// cutover's comparison of the tables it has just copied again, which must not read the whole catalog.
    /// </summary>
    public IReadOnlyCollection<string>? OnlyTables { get; init; }

    /// <summary>
    /// Also compare owners, privileges, default privileges, policies' roles, and the roles the database uses with
    /// their memberships (verify --roles, <see cref="AccessComparer"/>): what migrate --roles carries.
    /// </summary>
    public bool Roles { get; init; }

    /// <summary>With <see cref="Roles"/>: the source roles named otherwise on the target (--map-role SOURCE=TARGET).</summary>
    public IReadOnlyDictionary<string, string> RoleRenames { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// With <see cref="Roles"/>: the roles were to get the source's SUPERUSER, REPLICATION and BYPASSRLS
    /// (--roles-with-privileged-attributes), so a role without them differs; without it, that is a difference --roles chose.
    /// </summary>
    public bool PrivilegedAttributes { get; init; }

    /// <summary>SQL queries run on both sides and compared.</summary>
    public IReadOnlyList<string> Queries { get; init; } = [];

    /// <summary>How many tables are checked at once, each on both sides at the same time; null: the number of cores, as <see cref="SessionsPerSide"/> allows.</summary>
    public int? Jobs { get; init; }

    /// <summary>
    /// At most <paramref name="wanted"/> tables compared at once, each keeping a session busy on both sides. Where both
    /// servers run on this machine, at most half its cores: the two sides of one table already take two, and more
    /// sessions only take turns on them, each paying its start and its own read of the catalog. Measured on two cores,
    /// one table at a time against two: 1,000 tables of three rows 0.40 s against 0.43 s, 5,000 tables 1.56 s against
    /// 1.60 to 1.70 s, pgbench scale 30 the same.
    /// </summary>
    public static int SessionsPerSide(int wanted, PgConnectionInfo source, PgConnectionInfo target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        return source.IsLocal && target.IsLocal ? Math.Min(wanted, Math.Max(1, Environment.ProcessorCount / 2)) : wanted;
    }

    /// <summary>The tables a migration's verification compares at once: its <c>--jobs</c>, at least two, as <see cref="SessionsPerSide"/> allows.</summary>
    public static int ForMigration(int jobs, PgConnectionInfo source, PgConnectionInfo target) => SessionsPerSide(Math.Max(2, jobs), source, target);

    /// <summary>The most differing rows listed per table, and per query.</summary>
    public int MaxRows { get; init; } = 100;

    /// <summary>Longer values are cut to this many characters in reports.</summary>
    public int MaxValueLength { get; init; } = 200;
}

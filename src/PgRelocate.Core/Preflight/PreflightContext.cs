using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Preflight;

/// <summary>
/// What checks run against: an open connection to the source and, when given, to the target, what is
/// known about each side, and the local pg_dump/pg_restore installations.
/// </summary>
public sealed class PreflightContext
{
    public required PgConnectionInfo SourceInfo { get; init; }

    public required NpgsqlConnection Source { get; init; }

    public required ServerInfo SourceServer { get; init; }

    public PgConnectionInfo? TargetInfo { get; init; }

    public NpgsqlConnection? Target { get; init; }

    public ServerInfo? TargetServer { get; init; }

    public required PgBinaries Binaries { get; init; }

    public IReporter Reporter { get; init; } = NullReporter.Instance;

    /// <summary>Sessions of the caller's own migration: the migration lock they hold on the target is no obstacle.</summary>
    public IReadOnlyCollection<int> OwnSessions { get; init; } = [];

    /// <summary>The target database still to create, when <see cref="TargetInfo"/> names another of its server's (see <see cref="Targets.TargetRequirements.DatabaseToCreate"/>).</summary>
    public string? TargetDatabaseToCreate { get; init; }

    /// <summary>The sessions the run to come opens on the target at once (<see cref="PreflightRunner.TargetSessions"/>).</summary>
    public Targets.SessionCount TargetSessions { get; init; } = Targets.SessionCount.PerJob(1);

    /// <summary>--roles: the roles the database uses will be created on the target, owners and privileges kept.</summary>
    public bool Roles { get; init; }

    /// <summary>With <see cref="Roles"/>: --map-role's renames, SOURCE to TARGET.</summary>
    public IReadOnlyDictionary<string, string> RoleRenames { get; init; } = new Dictionary<string, string>();

    /// <summary>With <see cref="Roles"/>: --roles-with-privileged-attributes, the roles created get the source's SUPERUSER, REPLICATION and BYPASSRLS.</summary>
    public bool PrivilegedAttributes { get; init; }

    /// <summary>
    /// The source's table sizes, being read in a session of their own (<see cref="SourceSizes.ReadAheadAsync"/>); null
    /// when nobody started that read, or it could not open its session: then the first check that needs them reads them.
    /// </summary>
    internal Task<IReadOnlyList<RelationSize>?>? SizesAhead { get; init; }

    /// <summary>
    /// The estimate, when one was measured before the checks (<see cref="PreflightRunner.EstimateWith"/>, or migrate's
    /// just before them): the downtime check gives its prediction instead of sampling the source again.
    /// </summary>
    public Estimate? Estimate { get; internal set; }

    /// <summary>The target's connection and facts, when a target was given.</summary>
    public bool HasTarget => Target is not null && TargetServer is not null;

    private readonly Dictionary<string, object> _once = new(StringComparer.Ordinal);

    /// <summary>What <paramref name="read"/> returns, read by the first check that asks for <paramref name="key"/> and kept for the others.</summary>
    internal Task<T> Once<T>(string key, Func<Task<T>> read)
    {
        lock (_once)
        {
            if (!_once.TryGetValue(key, out var task))
            {
                _once[key] = task = read();
            }

            return (Task<T>)task;
        }
    }

    /// <summary>What <see cref="Once"/> read for <paramref name="key"/>, when a check asked for it and the read succeeded; else null.</summary>
    internal T? Kept<T>(string key) where T : class
    {
        lock (_once)
        {
            return _once.TryGetValue(key, out var task) && task is Task<T> { IsCompletedSuccessfully: true } read ? read.Result : null;
        }
    }
}

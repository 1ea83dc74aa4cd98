using PgRelocate.Catalog;

namespace PgRelocate.Targets;

/// <summary>What a restore or a copy asks of its target, for <see cref="TargetPreparation"/> to check.</summary>
public sealed record TargetRequirements
{
    /// <summary>The database name the user gave to allow replacing what the target holds (--confirm); null when not given.</summary>
    public string? Confirm { get; init; }

    /// <summary>
    /// The database the caller will create on this server and write into, when the connection names another one
    /// (an instance migration checks a database still to create on the database its URL names): advice names it.
    /// </summary>
    public string? DatabaseToCreate { get; init; }

    /// <summary>The extensions the archive (or the source) needs; plpgsql is ignored.</summary>
    public IReadOnlyList<string> Extensions { get; init; } = [];

    /// <summary>The schema each of those extensions is in on the source (or in the archive), where known; an extension the target has elsewhere is warned about.</summary>
    public IReadOnlyList<(string Name, string Schema)> ExtensionSchemas { get; init; } = [];

    /// <summary>
    /// The roles the archive's (or the source's) row-level security policies name: the restore would fail on a
    /// policy whose role the target lacks, so that refuses before anything is emptied. Empty with --roles, which
    /// creates them first.
    /// </summary>
    public IReadOnlyList<PolicyRole> PolicyRoles { get; init; } = [];

    /// <summary>The connections the run will open at once (a restore's jobs, a copy's streams and index builds); each needs a free slot.</summary>
    public SessionCount Sessions { get; init; } = SessionCount.PerJob(1);

    /// <summary>The source server's major version, when known: the target may not be older.</summary>
    public int? SourceMajor { get; init; }

    /// <summary>The source database, when there is one: the target must be another database.</summary>
    public DatabaseIdentity? Source { get; init; }

    /// <summary>Sessions of the caller's own migration, whose <see cref="MigrationLock"/> is no obstacle.</summary>
    public IReadOnlyCollection<int> OwnSessions { get; init; } = [];

    /// <summary>The command that finishes an emptying that stopped halfway, named in its message; null: the same command again with --confirm.</summary>
    public string? FinishCommand { get; init; }

    /// <summary>How long emptying waits for another session's lock before it gives up (lock_timeout).</summary>
    public TimeSpan LockTimeout { get; init; } = DefaultLockTimeout;

    /// <summary>Whether the check measures how far the target is (<see cref="TargetPreparation.RoundTrip"/>): only a copy sizes its work by it.</summary>
    public bool MeasureRoundTrip { get; init; }

    /// <summary>Where the emptying says it has emptied the target.</summary>
    public TargetChanges Changes { get; init; } = new();

    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromMinutes(1);
}

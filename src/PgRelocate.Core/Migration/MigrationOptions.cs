using PgRelocate.Preflight;
using PgRelocate.Connections;
using PgRelocate.Staging;
using PgRelocate.Targets;

namespace PgRelocate.Migration;

/// <summary>Everything a migration run needs, connections included (so this object is never written down).</summary>
public sealed record MigrationOptions
{
    public required PgConnectionInfo Source { get; init; }

    /// <summary>
    /// The target, --confirm, --lock-timeout, the sessions of the migration's own lock and --jobs (the dump's
    /// restore, the copy, the verification and the online apply), handed as they are to the restore and the copy.
    /// </summary>
    public required TargetOptions Into { get; init; }

    /// <summary>Where to stage the archive (a store location); null: a file in the migration's folder.</summary>
    public string? Via { get; init; }

    /// <summary>How to reach the store of <see cref="Via"/> (profile, region, endpoint, encryption): no secrets.</summary>
    public StagingOptions Staging { get; init; } = new();

    /// <summary>Create the bucket or container of <see cref="Via"/> when it is missing.</summary>
    public bool CreateBucket { get; init; }

    /// <summary>pg_dump's gzip level (0-9); null for pg_dump's default.</summary>
    public int? Compression { get; init; }

    /// <summary>Copy directly between the servers instead of dump, stage and restore.</summary>
    public bool Direct { get; init; }

    public bool ReadOnlySource { get; init; }

    public bool KeepReadOnly { get; init; }

    public bool ApplySettings { get; init; }

    public bool KeepArchive { get; init; }

    public bool ShowSecrets { get; init; }

    /// <summary>Online: copy a replication slot's snapshot, follow the source's changes, switch in seconds.</summary>
    public bool Online { get; init; }

    /// <summary>Online: switch as soon as the target has caught up (else wait for `pgrelocate cutover ID`).</summary>
    public bool AutoCutover { get; init; }

    /// <summary>Online, with <see cref="AutoCutover"/>: the lag under which the switch starts.</summary>
    public TimeSpan MaxLag { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Online: set REPLICA IDENTITY FULL on tables without a key for the migration (undone at the end).</summary>
    public bool ReplicaIdentityFull { get; init; }

    /// <summary>Online: stop and drop the slot once it holds more WAL than this on the source; null: only when the server is about to invalidate it.</summary>
    public long? MaxRetainedWal { get; init; }

    /// <summary>Online: hold the application's queries at PgBouncer for the switch and repoint its entry at the target; null without --pgbouncer.</summary>
    public Poolers.PgBouncerOptions? PgBouncer { get; init; }

    /// <summary>Online: after the switch, keep the old source in step with the target until `rollback` or `finish` (a way back).</summary>
    public bool Fallback { get; init; }

    /// <summary>With <see cref="Fallback"/>: end the way back once its queue on the target (or, by a slot, the WAL the slot holds there) takes more than this many bytes; null: no limit.</summary>
    public long? MaxFallbackQueue { get; init; }

    /// <summary>Online: carry the source's schema changes to the target while following (the default), or stop at the first (false: <c>--on-schema-change stop</c>).</summary>
    public bool CarrySchemaChanges { get; init; } = true;

    /// <summary>
    /// Accept a resumed direct copy that keeps what its interrupted run committed although the source was not kept
    /// read-only since: given to this run only (not fixed by the journal, so a --resume may add it).
    /// </summary>
    public bool NotConsistent { get; init; }

    /// <summary>
    /// An instance migration's database still to create on the target, checked on the database the target's URL
    /// names (<see cref="Into"/>): what the checks advise names it. Never journaled.
    /// </summary>
    public string? DatabaseToCreate { get; init; }

    /// <summary>--roles: create the roles the database uses on the target and keep the source's owners and privileges.</summary>
    public bool Roles { get; init; }

    /// <summary>--map-role SOURCE=TARGET: with <see cref="Roles"/>, the source's roles renamed on the target.</summary>
    public IReadOnlyDictionary<string, string> RoleRenames { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>--roles-with-privileged-attributes: with <see cref="Roles"/>, the roles created get the source's SUPERUSER, REPLICATION and BYPASSRLS.</summary>
    public bool PrivilegedAttributes { get; init; }

    /// <summary>How long the check step's estimate may measure (--estimate-seconds); null: no estimate (--no-estimate).</summary>
    public TimeSpan? EstimateBudget { get; init; } = EstimateOptions.DefaultBudget;

    /// <summary>Preflight checks whose blockers the user overrides, by name.</summary>
    public IReadOnlySet<string> Allow { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>The non-secret options, as the journal records them.</summary>
    public Dictionary<string, string> ToJournal()
    {
        var options = Journaled();
        PgBouncer?.ToJournal(options);
        return options;
    }

    private Dictionary<string, string> Journaled() => new(StringComparer.Ordinal)
    {
        ["confirm"] = Into.Confirm ?? "",
        ["lockTimeoutSeconds"] = Into.LockTimeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["via"] = Via ?? "(local file)",
        ["jobs"] = Into.Jobs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["compress"] = Compression?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
        ["readOnlySource"] = ReadOnlySource.ToString(),
        ["keepReadOnly"] = KeepReadOnly.ToString(),
        ["applySettings"] = ApplySettings.ToString(),
        ["keepArchive"] = KeepArchive.ToString(),
        ["allow"] = string.Join(",", Allow.Order(StringComparer.Ordinal)),
        ["roles"] = Roles.ToString(),
        ["mapRole"] = Catalog.RoleMap.ToJournal(RoleRenames),
        ["rolesWithPrivilegedAttributes"] = PrivilegedAttributes.ToString(),
        ["createBucket"] = CreateBucket.ToString(),
        ["direct"] = Direct.ToString(),
        ["online"] = Online.ToString(),
        ["cutover"] = AutoCutover ? "auto" : "manual",
        ["maxLagSeconds"] = MaxLag.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["replicaIdentityFull"] = ReplicaIdentityFull.ToString(),
        ["estimateSeconds"] = EstimateBudget?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
        ["maxRetainedWal"] = MaxRetainedWal?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
        ["fallback"] = Fallback.ToString(),
        ["maxFallbackQueue"] = MaxFallbackQueue?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
        ["onSchemaChange"] = CarrySchemaChanges ? "carry" : "stop",
        ["profile"] = Staging.Profile ?? "",
        ["region"] = Staging.Region ?? "",
        ["endpointUrl"] = Staging.EndpointUrl ?? "",
        ["provider"] = Staging.Provider ?? "",
        ["sse"] = Staging.Sse ?? "",
        ["sseKmsKeyId"] = Staging.SseKmsKeyId ?? "",
    };
}

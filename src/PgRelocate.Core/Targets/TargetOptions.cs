using PgRelocate.Connections;

namespace PgRelocate.Targets;

/// <summary>
/// What the caller of a restore, a copy or a migration says about the target: the database, --confirm,
/// --lock-timeout, the sessions of its own migration lock, and --jobs. One record, held as it is by
/// <c>LocationRestoreOptions</c>, <c>CopyOptions</c> and <c>MigrationOptions</c> (their <c>Into</c>), so an
/// option of the target is added here once and reaches every path.
/// </summary>
public sealed record TargetOptions
{
    public required PgConnectionInfo Connection { get; init; }

    /// <summary>The target database's name, given by the user to allow replacing what it holds; null when not given.</summary>
    public string? Confirm { get; init; }

    /// <summary>How long emptying the target (with <see cref="Confirm"/>) waits for another session's lock.</summary>
    public TimeSpan LockTimeout { get; init; } = TargetRequirements.DefaultLockTimeout;

    /// <summary>The server processes of the caller's own migration lock: no obstacle to the target preparation.</summary>
    public IReadOnlyCollection<int> OwnSessions { get; init; } = [];

    /// <summary>The command that finishes an emptying that stopped halfway, for its message ('pgrelocate migrate --resume ID'); null: the same command again.</summary>
    public string? FinishCommand { get; init; }

    /// <summary>Parallel jobs: pg_restore's (or the following restore's lanes), the copy's COPY streams, the migration's both.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>What the run has done to the target so far, told by the engines; read when the run stops early.</summary>
    public TargetChanges Changes { get; init; } = new();

    /// <summary>What these options ask of the target, for <see cref="TargetPreparation"/>: the caller adds what its input needs.</summary>
    /// <param name="sessions">The connections the run opens on the target at once.</param>
    public TargetRequirements Requirements(SessionCount sessions) => new()
    {
        Confirm = Confirm,
        LockTimeout = LockTimeout,
        OwnSessions = OwnSessions,
        FinishCommand = FinishCommand,
        Sessions = sessions,
        Changes = Changes,
    };
}

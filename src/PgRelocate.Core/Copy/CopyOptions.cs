using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>What <see cref="CopyRunner"/> copies where, and how much in parallel.</summary>
public sealed record CopyOptions
{
    public required PgConnectionInfo Source { get; init; }

    public required PgConnectionInfo Target { get; init; }

    /// <summary>The target database's name, given by the user to allow replacing what it holds.</summary>
    public string? Confirm { get; init; }

    /// <summary>How long emptying the target (with <see cref="Confirm"/>) waits for another session's lock.</summary>
    public TimeSpan LockTimeout { get; init; } = Targets.TargetRequirements.DefaultLockTimeout;

    /// <summary>The server processes of the caller's own migration lock: no obstacle to the target preparation.</summary>
    public IReadOnlyCollection<int> OwnSessions { get; init; } = [];

    /// <summary>Parallel COPY streams (each one a source and a target session).</summary>
    public int Jobs { get; init; } = 2;

    /// <summary>Parallel index and constraint builds on the target.</summary>
    public int IndexJobs { get; init; } = 2;

    /// <summary>Tables whose heap is larger than this are copied as several page ranges in parallel; 0 never splits.</summary>
    public long SplitTablesLargerThan { get; init; } = 256L * 1024 * 1024;

    /// <summary>maintenance_work_mem for the target sessions that build indexes: a sort that fits in memory is several times faster.</summary>
    public string MaintenanceWorkMem { get; init; } = "1GB";

    /// <summary>A snapshot exported on the source to copy (an online migration's replication slot's); null: a new one.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Where the pg_dump and pg_restore output and every statement's failure are kept.</summary>
    public required string LogPath { get; init; }
}

namespace PgRelocate.Connections;

/// <summary>What a session is for, where that changes how it is opened. Everything else comes from the connection.</summary>
public sealed record SessionOptions
{
    /// <summary>Short statements and catalog queries.</summary>
    public static SessionOptions Default { get; } = new();

    /// <summary>COPY streams, which move megabytes at a time: larger buffers.</summary>
    public static SessionOptions Bulk { get; } = new() { ApplicationName = "pgrelocate copy", ReadBufferSize = 1 << 16, WriteBufferSize = 1 << 16 };

    /// <summary>Shown in pg_stat_activity; null: the connection's own application_name, else "pgrelocate".</summary>
    public string? ApplicationName { get; init; }

    public int? ReadBufferSize { get; init; }

    public int? WriteBufferSize { get; init; }

    /// <summary>Statements the driver prepares once they repeat (at most this many); null: none.</summary>
    public int? AutoPrepare { get; init; }

    /// <summary>Seconds before a command is cancelled; null: never.</summary>
    public int? CommandTimeoutSeconds { get; init; }
}

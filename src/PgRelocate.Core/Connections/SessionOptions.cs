namespace PgRelocate.Connections;

/// <summary>What a session is for, where that changes how it is opened. Everything else comes from the connection.</summary>
internal sealed record SessionOptions
{
    /// <summary>Short statements and catalog queries.</summary>
    public static SessionOptions Default { get; } = new();

    /// <summary>Short statements that read built-in types only (a lock, an identity, a catalog list): no read of the database's types first (see <see cref="LoadTypes"/>).</summary>
    public static SessionOptions BuiltInTypes { get; } = new() { LoadTypes = false };

    /// <summary>
    /// The copy's sessions: COPY streams, which move megabytes at a time (larger buffers), and catalog queries. They
    /// read rows as raw COPY data and the catalogs as built-in types, so the driver does not read the database's
    /// types when it connects (see <see cref="LoadTypes"/>).
    /// </summary>
    public static SessionOptions Bulk { get; } = new() { ApplicationName = "pgrelocate copy", ReadBufferSize = 1 << 16, WriteBufferSize = 1 << 16, LoadTypes = false };

    /// <summary>Shown in pg_stat_activity; null: the connection's own application_name, else "pgrelocate".</summary>
    public string? ApplicationName { get; init; }

    public int? ReadBufferSize { get; init; }

    public int? WriteBufferSize { get; init; }

    /// <summary>Statements the driver prepares once they repeat (at most this many); null: none.</summary>
    public int? AutoPrepare { get; init; }

    /// <summary>
    /// Whether the driver reads the database's types (every enum, domain, range and extension type of pg_type) on
    /// its first session with these options, so that values of those types can be read. Each distinct set of
    /// options is a query of its own, 30 to 70 ms of a source with 1,000 tables; false: the built-in types only, and
    /// a value of any other type cannot be read.
    /// </summary>
    public bool LoadTypes { get; init; } = true;

    /// <summary>Seconds before a command is cancelled; null: never.</summary>
    public int? CommandTimeoutSeconds { get; init; }
}

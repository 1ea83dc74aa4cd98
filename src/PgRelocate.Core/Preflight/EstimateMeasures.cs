namespace PgRelocate.Preflight;

/// <summary>
/// One of the source's user tables as the estimate sees it: its heap, its rows, its indexes' kinds, its heap, TOAST
/// and indexes together (which say whether the copy takes it as a small table), and its indexes' sizes weighed by
/// their kind, in the order of <see cref="IndexKinds"/> (the catalog's; 0 where it has none; null: not read); and its
/// oid (0: not read), by which <see cref="EstimateForeignKey"/> names it.
/// </summary>
public sealed record EstimateTable(string Schema, string Name, long HeapBytes, long Rows, IReadOnlyList<string> IndexKinds, long TotalBytes, IReadOnlyList<long>? WeighedIndexBytes = null, long Oid = 0)
{
    public string Qualified => Schema + "." + Name;

    /// <summary>Whether the copy takes it in a batch of small tables (<see cref="Copy.SmallTables"/>), its cost its statements' rather than its bytes'.</summary>
    public bool IsSmall => TotalBytes <= Copy.SmallTables.MaxBytes;
}

/// <summary>A table's writes per second over the measurement (rows inserted, updated and deleted).</summary>
public sealed record TableWriteRate(string Table, double RowsPerSecond);

/// <summary>
/// What the estimate measured, each part null when it could not be measured (its reason is in <see cref="Basis"/>):
/// rates in heap bytes per second (what the tables weigh on disk, so they scale by the catalog's sizes), round trips,
/// the source's WAL rate and busiest tables, and what the catalog says the copy will move.
/// </summary>
public sealed record EstimateMeasures
{
    /// <summary>How fast one session reads the source's largest tables to this machine (COPY to nowhere).</summary>
    public double? SourceReadBytesPerSecond { get; init; }

    /// <summary>How fast one lane moves rows from the source into a scratch table of the target.</summary>
    public double? TargetWriteBytesPerSecond { get; init; }

    /// <summary>How fast the target builds a B-tree index, in rows per second, on <see cref="IndexSampleRows"/> rows.</summary>
    public double? IndexRowsPerSecond { get; init; }

    public long IndexSampleRows { get; init; }

    /// <summary>The same B-tree build in bytes of index per second: an index of another kind counts by its weighed size at this rate.</summary>
    public double? IndexBytesPerSecond { get; init; }

    /// <summary>How long ANALYZE of the scratch table took, and the rows it sampled.</summary>
    public (TimeSpan Took, long Rows)? Analyze { get; init; }

    /// <summary>How fast the target checks a new foreign key, in referencing rows probed per second (<see cref="ForeignKeyChecks.SampleAsync"/>).</summary>
    public double? ForeignKeyRowsPerSecond { get; init; }

    /// <summary>The source's foreign keys, one for each check the post-data makes.</summary>
    public IReadOnlyList<EstimateForeignKey> ForeignKeys { get; init; } = [];

    /// <summary>What one small table (<see cref="EstimateTable.IsSmall"/>) costs a lane, its indexes and ANALYZE included: seconds.</summary>
    public double? SmallTableSeconds { get; init; }

    public TimeSpan SourceRoundTrip { get; init; }

    public TimeSpan? TargetRoundTrip { get; init; }

    /// <summary>The source's WAL, bytes per second, from pg_current_wal_lsn over the measurement.</summary>
    public double? SourceWalBytesPerSecond { get; init; }

    public IReadOnlyList<TableWriteRate> BusiestTables { get; init; } = [];

    public IReadOnlyList<EstimateTable> Tables { get; init; } = [];

    public long LargeObjectBytes { get; init; }

    public long LargeObjects { get; init; }

    public long Sequences { get; init; }

    /// <summary>The cores the copy's lanes share, when they can be read (both servers on this machine); null: assumed enough.</summary>
    public int? SharedCores { get; init; }

    /// <summary>How long <c>pg_dump --schema-only</c> of the source took (at least; see the basis); null when not measured.</summary>
    public double? SchemaDumpSeconds { get; init; }

    /// <summary>How long the measurement took.</summary>
    public TimeSpan Took { get; init; }

    /// <summary>What each number rests on, and what was left out and why, one sentence each.</summary>
    public IReadOnlyList<string> Basis { get; init; } = [];
}

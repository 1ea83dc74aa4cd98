namespace PgRelocate.Preflight;

/// <summary>
/// What the estimate measured on the target, in one transaction rolled back: one lane's rate of heap bytes, the B-tree
/// build's rate over the rows it wrote (and over the bytes it built), ANALYZE's time over its sample, one small
/// table's cost (<see cref="SmallTableSample"/>), and a foreign key's check rate in referencing rows probed per second
/// (<see cref="ForeignKeyChecks.SampleAsync"/>; null where the source has none or it was not measured).
/// </summary>
internal sealed record TargetSample(double? Rate, IndexSample? Index, long IndexRows, (TimeSpan Took, long Rows)? Analyze, double? SmallTableSeconds, double? ForeignKeyRowsPerSecond = null)
{
    /// <summary>Nothing measured (the basis says why).</summary>
    public static TargetSample None { get; } = new(null, null, 0, null, null);
}

namespace PgRelocate.Copy;

/// <summary>
/// One timed step of a copy: "schema", "data" of a table (or a range of it), "index" for one index or
/// constraint, "analyze", "sequences", "large objects", "post-data", "foreign keys". <see cref="Start"/> is measured from the
/// beginning of the run, so the steps that overlapped can be seen.
/// </summary>
public sealed record CopyStep(string Step, string Object, TimeSpan Start, TimeSpan Duration, long? Rows = null, long? Bytes = null);

/// <summary>How a copy ended. A copy that fails throws instead; warnings are harmless restore errors.</summary>
public sealed record CopyResult(
    IReadOnlyList<CopyStep> Steps,
    IReadOnlyList<string> Warnings,
    TimeSpan Duration,
    int Tables,
    long Rows,
    long Bytes,
    int Sequences,
    int LargeObjects,
    string LogPath)
{
    /// <summary>With --roles: what was done about each role the source database uses (empty without).</summary>
    public IReadOnlyList<Catalog.RoleOutcome> Roles { get; init; } = [];

    /// <summary>With --roles: the owners, grants and default privileges given after the copy; null without.</summary>
    public Catalog.AccessApplied? Access { get; init; }

    /// <summary>The tables a copy that yields gave up (<see cref="CopyOptions.Yields"/>): not copied here, to copy again after their change.</summary>
    internal IReadOnlyList<YieldedTable> Yielded { get; init; } = [];

    /// <summary>The steps that time the copy's phases, not one table's.</summary>
    private static readonly HashSet<string> Phases = new(StringComparer.Ordinal) { "schema", "target", "pre-data", "data and indexes", "sequences", "post-data", "foreign keys" };

    /// <summary>
    /// The steps a person reads: every phase, and the <paramref name="slowest"/> longest steps of single tables (a
    /// copy of thousands of tables has a step per table, all in <see cref="Steps"/> and the log), in order of start.
    /// </summary>
    public (IReadOnlyList<CopyStep> Steps, int LeftOut) ForPeople(int slowest = 25)
    {
        var tables = Steps.Where(s => !Phases.Contains(s.Step)).ToList();
        var kept = tables.OrderByDescending(s => s.Duration).Take(slowest).ToHashSet();
        return ([.. Steps.Where(s => Phases.Contains(s.Step) || kept.Contains(s)).OrderBy(s => s.Start)], tables.Count - kept.Count);
    }
}

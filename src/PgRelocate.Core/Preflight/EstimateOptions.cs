namespace PgRelocate.Preflight;

/// <summary>
/// What <c>check</c>'s estimate may do and for how long: the time its measurement may take, whether it may write a
/// scratch table on a target that holds data (<see cref="Confirm"/> names the target's database), the downtime
/// budget its advice weighs the paths against, and the copy's lanes it predicts for.
/// </summary>
public sealed record EstimateOptions
{
    /// <summary>The default bound of the measurement (<c>--estimate-seconds</c>).</summary>
    public static readonly TimeSpan DefaultBudget = TimeSpan.FromSeconds(10);

    /// <summary>How long the whole measurement may take.</summary>
    public TimeSpan Budget { get; init; } = DefaultBudget;

    /// <summary>--confirm: the target database's name; without it a target that holds data is only read.</summary>
    public string? Confirm { get; init; }

    /// <summary>--max-downtime: the write downtime the recommended path must stay under; null when none was given.</summary>
    public TimeSpan? MaxDowntime { get; init; }

    /// <summary>The copy's COPY streams and index builders it predicts for (the copy's defaults).</summary>
    public int Jobs { get; init; } = 2;

    public int IndexJobs { get; init; } = 2;

    /// <summary>The lag the online cutover waits for before it stops writes (migrate's --max-lag default).</summary>
    public TimeSpan CutoverLag { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The last migration between these two servers whose estimate can be set beside what it took; null: none known.</summary>
    public PastEstimate? Past { get; init; }
}

/// <summary>
/// What an earlier migration between the same two servers predicted and what it took (seconds; null where that path
/// did not run), so that this estimate can be corrected by how far off that one was; and, online, the write downtime
/// its cutover measured (mostly the servers' own fixed costs, which the round trips alone underrate).
/// </summary>
public sealed record PastEstimate(string Id, DateTimeOffset At, double? PredictedCopy, double? ActualCopy, double? PredictedDumpRestore, double? ActualDumpRestore, double? ActualOnlineDowntime = null)
{
    /// <summary>How far a past figure may move this one, either way: a run disturbed by something else is not the rule.</summary>
    private const double Bound = 4;

    /// <summary>The factor by which that migration's <paramref name="predicted"/> missed its <paramref name="actual"/> (bounded), or null.</summary>
    public static double? Factor(double? predicted, double? actual) =>
        predicted is > 0 && actual is > 0 ? Math.Clamp(actual.Value / predicted.Value, 1 / Bound, Bound) : null;
}

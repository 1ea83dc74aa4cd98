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
}

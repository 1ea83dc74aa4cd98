namespace PgRelocate.Preflight;

/// <summary>Everything a preflight run found, in check order.</summary>
public sealed record PreflightReport(IReadOnlyList<CheckResult> Results)
{
    /// <summary>Whether the source's login role (<see cref="SourceRole"/>) reads every row, as the readable tables check found; null when it did not run or could not tell.</summary>
    public Catalog.SourceReadability? Readability { get; init; }

    /// <summary>The applications connected to the source, as the connected applications check listed them; null when it did not run or could not tell.</summary>
    public IReadOnlyList<Catalog.ConnectedApplication>? Applications { get; init; }

    /// <summary>What the estimate measured and predicts; null when none was asked for or it could not be measured.</summary>
    public Estimate? Estimate { get; init; }

    /// <summary>The role the checks logged in to the source as.</summary>
    public string? SourceRole { get; init; }

    public bool Blocked => Results.Any(r => r.Status == CheckStatus.Block);

    public int Count(CheckStatus status) => Results.Count(r => r.Status == status);
}

namespace PgRelocate.Preflight;

/// <summary>Everything a preflight run found, in check order.</summary>
public sealed record PreflightReport(IReadOnlyList<CheckResult> Results)
{
    public bool Blocked => Results.Any(r => r.Status == CheckStatus.Block);

    public int Count(CheckStatus status) => Results.Count(r => r.Status == status);
}

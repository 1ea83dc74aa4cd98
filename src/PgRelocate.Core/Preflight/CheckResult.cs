namespace PgRelocate.Preflight;

/// <summary>
/// One row of the preflight report: which check, its status, what it found, and the next step in one
/// sentence. <paramref name="Details"/> lists the objects behind the finding (tables, extensions, ...).
/// </summary>
public sealed record CheckResult(string Check, CheckStatus Status, string Found, string Next)
{
    public IReadOnlyList<string> Details { get; init; } = [];

    /// <summary>
    /// Whether a migration's --allow lifts this blocker; false for what the target's preparation refuses whatever
    /// the checks said (<see cref="Targets.TargetPreparation"/>'s findings), which --allow is then not offered for.
    /// </summary>
    public bool Overridable { get; init; } = true;

    public static CheckResult Ok(string check, string found, string next = "Nothing to do.") => new(check, CheckStatus.Ok, found, next);

    public static CheckResult Warn(string check, string found, string next) => new(check, CheckStatus.Warn, found, next);

    public static CheckResult Block(string check, string found, string next) => new(check, CheckStatus.Block, found, next);
}

namespace PgRelocate.Preflight.Checks;

/// <summary>The common shape of checks that list objects: none is ok, any is a warning naming them.</summary>
internal static class Findings
{
    public static CheckResult WarnIfAny(string check, IReadOnlyList<string> items, string noneFound, string what, string next) =>
        items.Count == 0
            ? CheckResult.Ok(check, noneFound)
            : CheckResult.Warn(check, $"{items.Count} {what}: {Query.Names(items)}.", next) with { Details = items };
}

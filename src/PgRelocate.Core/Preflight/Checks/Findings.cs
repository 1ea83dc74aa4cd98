namespace PgRelocate.Preflight.Checks;

/// <summary>The common shape of checks that list objects: none is ok, any is a warning naming them.</summary>
internal static class Findings
{
    public static CheckResult WarnIfAny(string check, IReadOnlyList<string> items, string noneFound, string what, string next) =>
        items.Count == 0
            ? CheckResult.Ok(check, noneFound)
            : CheckResult.Warn(check, $"{items.Count} {what}: {Names(items)}.", next) with { Details = items };

    /// <summary>A short list for a "found" sentence: the first few names, then how many more.</summary>
    public static string Names(IReadOnlyCollection<string> names, int max = 5) => Errors.Sentences.FirstFew(names, max);
}

using System.Text.RegularExpressions;

namespace PgRelocate.Verify;

/// <summary>Which tables to compare: shell-style globs on <c>schema.table</c>, or on the table name alone.</summary>
internal sealed class TablePatterns
{
    private readonly List<(Regex Regex, bool Qualified)> _patterns;

    public TablePatterns(IEnumerable<string> patterns)
    {
        _patterns = [.. patterns
            .SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(p => (ToRegex(p), p.Contains('.', StringComparison.Ordinal)))];
    }

    public bool Matches(string schema, string table) =>
        _patterns.Count == 0 || _patterns.Any(p => p.Regex.IsMatch(p.Qualified ? $"{schema}.{table}" : table));

    private static Regex ToRegex(string glob) =>
        new("^" + Regex.Escape(glob).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
}

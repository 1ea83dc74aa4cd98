using System.Text.RegularExpressions;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Harness;

public static partial class DatabaseSnapshot
{
    /// <summary>
    /// Asserts that <c>pg_dump --schema-only</c> of both databases, owners and privileges included, says the same,
    /// line by line (sorted: an ACL's items may come in another order), read by one pg_dump: each side's login
    /// role written LOGIN, and the source's roles renamed as <paramref name="renames"/> says (--map-role).
    /// Returns the lines compared.
    /// </summary>
    public static async Task<List<string>> AssertSameOwnersAndPrivilegesAsync(PgConnectionInfo source, PgConnectionInfo target, IReadOnlyDictionary<string, string>? renames = null)
    {
        var pgDump = PgDump(Math.Max(await ServerMajorAsync(source), await ServerMajorAsync(target)))
            ?? throw new Xunit.Sdk.XunitException("No pg_dump on this machine dumps both servers.");
        var all = new Dictionary<string, string>(renames ?? new Dictionary<string, string>(), StringComparer.Ordinal) { [source.User] = "LOGIN" };
        var expected = Lines(await DumpAsync(pgDump, source, ["--schema-only"]), all);
        var actual = Lines(await DumpAsync(pgDump, target, ["--schema-only"]), new Dictionary<string, string> { [target.User] = "LOGIN" });
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Xunit.Assert.True(missing.Count == 0 && extra.Count == 0,
            $"pg_dump differs.\nOnly on the source:\n  {string.Join("\n  ", missing)}\nOnly on the target:\n  {string.Join("\n  ", extra)}");
        Xunit.Assert.Equal(expected, actual);
        return expected;
    }

    private static List<string> Lines(string dump, IReadOnlyDictionary<string, string> renames) =>
        [.. dump.Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith("--", StringComparison.Ordinal) && !l.StartsWith("SET ", StringComparison.Ordinal)
                && !l.StartsWith("\\restrict ", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict ", StringComparison.Ordinal)
                && !l.StartsWith("SELECT pg_catalog.set_config", StringComparison.Ordinal))
            .Select(l => renames.Aggregate(l, (text, r) => Regex.Replace(text, $@"(?<![\w""]){Regex.Escape(r.Key)}(?![\w""])|""{Regex.Escape(r.Key.Replace("\"", "\"\"", StringComparison.Ordinal))}""", r.Value)))
            .Order(StringComparer.Ordinal)];
}

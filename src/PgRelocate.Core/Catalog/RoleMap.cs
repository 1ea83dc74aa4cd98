namespace PgRelocate.Catalog;

/// <summary>
/// How --roles names the source's roles on the target: as they are, but for the source's login role (the
/// target's login role stands for it) and the renames of --map-role SOURCE=TARGET.
/// </summary>
public sealed class RoleMap
{
    private readonly IReadOnlyDictionary<string, string> _renames;

    private RoleMap(IReadOnlyDictionary<string, string> renames, string sourceLogin, string targetLogin)
    {
        _renames = renames;
        SourceLogin = sourceLogin;
        TargetLogin = targetLogin;
    }

    public string SourceLogin { get; }

    public string TargetLogin { get; }

    /// <summary>A source role's name on the target.</summary>
    public string this[string role] =>
        _renames.TryGetValue(role, out var renamed) ? renamed : role == SourceLogin ? TargetLogin : role;

    /// <summary>Whether --map-role renames <paramref name="role"/>.</summary>
    public bool Renames(string role) => _renames.ContainsKey(role);

    public static RoleMap For(IReadOnlyDictionary<string, string> renames, string sourceLogin, string targetLogin) =>
        new(renames, sourceLogin, targetLogin);

    /// <summary>
    /// The renames of --map-role, each SOURCE=TARGET (split at the first '='); null with the reason when one is
    /// not of that form or a source role is named twice.
    /// </summary>
    public static (Dictionary<string, string>? Renames, string? Error) Parse(IEnumerable<string> given)
    {
        var renames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var text in given)
        {
            var at = text.IndexOf('=', StringComparison.Ordinal);
            if (at <= 0 || at == text.Length - 1)
            {
                return (null, $"--map-role '{text}' is not SOURCE=TARGET: write --map-role app_owner=postgres.");
            }

            if (!renames.TryAdd(text[..at], text[(at + 1)..]))
            {
                return (null, $"--map-role names the source role '{text[..at]}' twice: give each role one target.");
            }
        }

        return (renames, null);
    }

    /// <summary>The renames as the journal records them, one SOURCE=TARGET a line.</summary>
    public static string ToJournal(IReadOnlyDictionary<string, string> renames) =>
        string.Join("\n", renames.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));

    public static Dictionary<string, string> FromJournal(string? text) =>
        Parse((text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries)).Renames ?? new(StringComparer.Ordinal);
}

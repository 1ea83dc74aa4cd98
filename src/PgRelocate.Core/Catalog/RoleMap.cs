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
    /// What is wrong with the renames for this source and target, read before any change: the first mistake (null when
    /// none), which --roles refuses with exit 2, and the source roles renamed that this database does not use (another
    /// database of the server may: <see cref="Unused"/> says so). Mistakes: a source role the source server has not,
    /// a predefined one, the source's login role (the target's login role stands for it whatever the map), a reserved
    /// name (pg_*, public, none), a superuser of the target when the login role is none (it may give it neither
    /// objects nor memberships), and two source roles given one name (but the target's login role's).
    /// </summary>
    public (string? Mistake, List<string> Unused) Check(DatabaseAccess access, bool loginIsSuperuser, IEnumerable<RoleFacts> targetRoles)
    {
        var onTarget = targetRoles.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var onSource = access.ServerRoles.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var unused = new List<string>();
        foreach (var (from, to) in _renames.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var given = $"--map-role {from}={to}";
            if (from.StartsWith("pg_", StringComparison.Ordinal))
            {
                return ($"{given} names {from}, a predefined role, the same on every server: leave it out of --map-role.", unused);
            }

            if (from == SourceLogin)
            {
                if (to == TargetLogin)
                {
                    continue;
                }

                return ($"{given} renames {from}, the source's login role: the target's login role ({TargetLogin}) stands for it and owns what it owns, whatever the map. Leave it out of --map-role (or connect to the source as another role).", unused);
            }

            if (!onSource.Contains(from))
            {
                return ($"{given}: the source server has no role {from}. Check the name (check --roles lists the roles the database uses; names are case-sensitive).", unused);
            }

            if (to.StartsWith("pg_", StringComparison.Ordinal) || to is "public" or "none")
            {
                return ($"{given}: {to} is a name PostgreSQL reserves (pg_*, public, none): choose another name.", unused);
            }

            if (to != TargetLogin && onTarget.TryGetValue(to, out var there) && there.Superuser && !loginIsSuperuser)
            {
                return ($"{given}: {to} is a superuser on the target and {TargetLogin} is not: it may give {to} neither objects nor memberships. Map {from} to another role (or to {TargetLogin}), or run as a superuser.", unused);
            }

            if (!access.Roles.Any(r => r.Name == from))
            {
                unused.Add(from);
            }
        }

        var shared = access.ServerRoles.Where(r => r.Name != SourceLogin).GroupBy(r => this[r.Name], StringComparer.Ordinal)
            .FirstOrDefault(g => g.Key != TargetLogin && g.Count() > 1);
        return shared is null
            ? (null, unused)
            : ($"--map-role gives {string.Join(" and ", shared.Select(r => r.Name))} the one name {shared.Key} on the target: give each source role a name of its own (or map it to {TargetLogin}, the login role).", unused);
    }

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

    /// <summary>The warning for a rename of a role the database does not use (see <see cref="Check"/>).</summary>
    public string Unused(string from) => $"--map-role {from}={this[from]} renames nothing here: the database uses no role {from}";

    /// <summary>The renames as the journal records them, one SOURCE=TARGET a line.</summary>
    public static string ToJournal(IReadOnlyDictionary<string, string> renames) =>
        string.Join("\n", renames.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));

    public static Dictionary<string, string> FromJournal(string? text) =>
        Parse((text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries)).Renames ?? new(StringComparer.Ordinal);
}

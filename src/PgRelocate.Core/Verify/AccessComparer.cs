using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;

namespace PgRelocate.Verify;

/// <summary>
/// verify --roles: compares who owns the database's objects and who may use them, as <see cref="DatabaseAccess"/>
/// reads them on each side, the source's roles named as the <see cref="RoleMap"/> names them on the target (its
/// login role standing for the source's, and --map-role's renames): each object's owner, its privileges (column
/// grants included, and what the owner revoked from itself) and the default privileges, the roles each policy names, the memberships among the roles
/// the database uses (ADMIN OPTION; INHERIT and SET where both servers have them, PostgreSQL 16+), and those
/// roles' attributes that --roles carries (LOGIN, INHERIT, CONNECTION LIMIT, VALID UNTIL, their settings and
/// their settings in the database). Every difference is a <see cref="SchemaDifference"/> naming the object.
/// </summary>
internal static class AccessComparer
{
    /// <summary>What one side says: who owns what, and the roles of the database and of the server.</summary>
    public sealed record Side(DatabaseAccess Access, List<(string Object, string? Schema, string Owner)> Owners);

    public static async Task<Side> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        new(await DatabaseAccess.ReadAsync(conn, cancellationToken), await DatabaseAccess.ReadObjectOwnersAsync(conn, cancellationToken));

    public static List<SchemaDifference> Compare(Side source, Side target, IReadOnlyDictionary<string, string> renames)
    {
        var map = RoleMap.For(renames, source.Access.LoginRole, target.Access.LoginRole);
        var differences = new List<SchemaDifference>();
        Owners(source, target, map, differences);
        Privileges(source, target, map, differences);
        PolicyRoles(source, target, map, differences);
        Roles(source, target, map, differences);
        return differences;
    }

    /// <summary>
    /// Each object's owner; an object of the login role is in neither list. A superuser's object stays the target
    /// login role's when that is no superuser (--roles may not give it back), as it does in the restore.
    /// </summary>
    private static void Owners(Side source, Side target, RoleMap map, List<SchemaDifference> differences)
    {
        var login = map.TargetLogin;
        var loginIsSuperuser = target.Access.ServerRoles.Any(r => r.Name == login && r.Superuser);
        var superusers = source.Access.ServerRoles.Where(r => r.Superuser).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var expected = source.Owners.Where(o => loginIsSuperuser || !superusers.Contains(o.Owner))
            .GroupBy(o => o.Object, StringComparer.Ordinal).ToDictionary(g => g.Key, g => map[g.First().Owner], StringComparer.Ordinal);
        var actual = target.Owners.GroupBy(o => o.Object, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Owner, StringComparer.Ordinal);
        foreach (var name in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            var (want, have) = (expected.GetValueOrDefault(name, login), actual.GetValueOrDefault(name, login));
            if (want != have)
            {
                differences.Add(new SchemaDifference("owner", name, DifferenceKind.Different, $"owned by {want}", $"owned by {have}"));
            }
        }
    }

    /// <summary>Each object's privileges beyond its owner's (and the default privileges), compared per object as lists.</summary>
    private static void Privileges(Side source, Side target, RoleMap map, List<SchemaDifference> differences)
    {
        // An owner's own revokes on a superuser's object are not carried where the object stays the login role's (see Owners).
        var loginIsSuperuser = target.Access.ServerRoles.Any(r => r.Name == map.TargetLogin && r.Superuser);
        var superusers = source.Access.ServerRoles.Where(r => r.Superuser && !loginIsSuperuser && map[r.Name] != map.TargetLogin).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var expected = ByObject(source.Access.Carried.Where(p => p.Grantee != p.Owner || !superusers.Contains(p.Owner))
            .Select(p => p with { Owner = map[p.Owner], Grantee = p.Grantee is null ? null : map[p.Grantee] }));
        var actual = ByObject(target.Access.Carried);
        foreach (var key in expected.Keys.Union(actual.Keys).Order())
        {
            var want = expected.GetValueOrDefault(key);
            var have = actual.GetValueOrDefault(key);
            if (want != have)
            {
                differences.Add(new SchemaDifference(key.Default ? "default privileges" : "privileges", key.On,
                    want is null ? DifferenceKind.ExtraOnTarget : have is null ? DifferenceKind.MissingOnTarget : DifferenceKind.Different,
                    want ?? "none beyond the owner's", have ?? "none beyond the owner's"));
            }
        }
    }

    private static Dictionary<(bool Default, string On), string> ByObject(IEnumerable<Privilege> privileges) =>
        privileges.GroupBy(p => (p.IsDefault, p.On))
            .ToDictionary(g => g.Key, g => string.Join("; ", g.Select(p => p.Entry).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)));

    /// <summary>The roles each policy names; a policy naming none is for PUBLIC (whether it exists is the schema's comparison).</summary>
    private static void PolicyRoles(Side source, Side target, RoleMap map, List<SchemaDifference> differences)
    {
        static Dictionary<string, string> ByPolicy(IEnumerable<PolicyRole> roles, Func<string, string> name) =>
            roles.GroupBy(p => $"{p.Policy} on {p.Table}", StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => "to " + string.Join(", ", g.Select(p => name(p.Role)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)), StringComparer.Ordinal);

        var expected = ByPolicy(source.Access.PolicyRoles, r => map[r]);
        var actual = ByPolicy(target.Access.PolicyRoles, r => r);
        foreach (var name in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            var (want, have) = (expected.GetValueOrDefault(name, "to PUBLIC"), actual.GetValueOrDefault(name, "to PUBLIC"));
            if (want != have)
            {
                differences.Add(new SchemaDifference("policy roles", name, DifferenceKind.Different, want, have));
            }
        }
    }

    /// <summary>
    /// The roles the source database uses (but the one standing for the target's login role): each role's attributes
    /// --roles carries, and its memberships in the others.
    /// </summary>
    private static void Roles(Side source, Side target, RoleMap map, List<SchemaDifference> differences)
    {
        var there = target.Access.ServerRoles.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var used = source.Access.Roles.Where(r => map[r.Name] != map.TargetLogin).ToList();
        var usedNames = used.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var targetNames = used.Select(r => map[r.Name]).ToHashSet(StringComparer.Ordinal);
        foreach (var role in used)
        {
            var name = map[role.Name];
            if (!there.TryGetValue(name, out var other))
            {
                differences.Add(new SchemaDifference("role", name, DifferenceKind.MissingOnTarget, Attributes(role)));
                continue;
            }

            if (Attributes(role) != Attributes(other))
            {
                differences.Add(new SchemaDifference("role", name, DifferenceKind.Different, Attributes(role), Attributes(other)));
            }

            var expected = role.Memberships.Where(m => usedNames.Contains(m.Role) && map[m.Role] != name).ToDictionary(m => map[m.Role], StringComparer.Ordinal);
            var actual = other.Memberships.Where(m => targetNames.Contains(m.Role)).ToDictionary(m => m.Role, StringComparer.Ordinal);
            foreach (var group in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
            {
                var (want, have) = (expected.GetValueOrDefault(group), actual.GetValueOrDefault(group));
                var bothOptions = want?.Inherit is not null && have?.Inherit is not null;
                string? Text(Membership? m) => m is null ? null : Options(m, bothOptions);
                if (Text(want) != Text(have))
                {
                    differences.Add(new SchemaDifference("membership", $"{name} in {group}",
                        want is null ? DifferenceKind.ExtraOnTarget : have is null ? DifferenceKind.MissingOnTarget : DifferenceKind.Different,
                        Text(want) ?? "not a member", Text(have) ?? "not a member"));
                }
            }
        }
    }

    private static string Options(Membership m, bool withInheritAndSet) =>
        "member" + (m.Admin ? " with admin option" : "") + (withInheritAndSet ? $", inherit {(m.Inherit == true ? "true" : "false")}, set {(m.Set == true ? "true" : "false")}" : "");

    /// <summary>A role's attributes --roles carries, as one line (settings sorted, each side may store them in another order).</summary>
    private static string Attributes(RoleFacts role) => string.Join(", ",
        role.CanLogin ? "login" : "nologin",
        role.Inherit ? "inherit" : "noinherit",
        "connection limit " + role.ConnectionLimit.ToString(CultureInfo.InvariantCulture),
        "valid until " + (role.ValidUntil ?? "none"),
        "settings [" + string.Join(", ", role.Settings.Order(StringComparer.Ordinal)) + "]",
        "settings in this database [" + string.Join(", ", role.DatabaseSettings.Order(StringComparer.Ordinal)) + "]");
}

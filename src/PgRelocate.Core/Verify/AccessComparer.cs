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
/// their settings in the database), their memberships in predefined roles, and SUPERUSER, REPLICATION and BYPASSRLS.
/// Every difference is a <see cref="SchemaDifference"/> naming the object, but those --roles makes on purpose, each a
/// <see cref="ChosenDifference"/> saying why: a superuser's objects kept by a target login role that is none (with
/// what that does to their privileges), and without --roles-with-privileged-attributes a role lacking the source's
/// SUPERUSER, REPLICATION or BYPASSRLS.
/// </summary>
internal static class AccessComparer
{
    /// <summary>What one side says: who owns what, and the roles of the database and of the server.</summary>
    public sealed record Side(DatabaseAccess Access, List<(string Object, string? Schema, string Owner)> Owners);

    public static async Task<Side> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        new(await DatabaseAccess.ReadAsync(conn, cancellationToken), await DatabaseAccess.ReadObjectOwnersAsync(conn, cancellationToken));

    /// <summary>What the comparison found: the differences, those --roles made on purpose, and the warnings of renames the database does not use.</summary>
    public sealed record Found(List<SchemaDifference> Differences, List<ChosenDifference> Chosen)
    {
        public List<string> Unused { get; } = [];
    }

    /// <param name="privileged">--roles-with-privileged-attributes: the roles were to get the source's SUPERUSER, REPLICATION and BYPASSRLS.</param>
    public static Found Compare(Side source, Side target, IReadOnlyDictionary<string, string> renames, bool privileged = false)
    {
        var map = RoleMap.For(renames, source.Access.LoginRole, target.Access.LoginRole);
        var found = new Found([], []);
        // A superuser's objects stay the target login role's when that is none (--roles may not give them to one), as in TargetAccess.
        var loginIsSuperuser = target.Access.ServerRoles.Any(r => r.Name == map.TargetLogin && r.Superuser);
        // The renames as --roles checks them: a mistake is refused, a rename the database has no use for named.
        var (mistake, unused) = map.Check(source.Access, loginIsSuperuser, target.Access.ServerRoles);
        if (mistake is not null)
        {
            throw new Errors.UsageException(mistake);
        }

        found.Unused.AddRange(unused.Select(map.Unused));
        var kept = source.Access.ServerRoles.Where(r => r.Superuser && !loginIsSuperuser && map[r.Name] != map.TargetLogin).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var why = $"{map.TargetLogin} is no superuser: --roles leaves the objects of a superuser of the source to it, as it may not give them to one";
        Owners(source, target, map, kept, why, found);
        Privileges(source, target, map, kept, why, found);
        PolicyRoles(source, target, map, found.Differences);
        Roles(source, target, map, privileged, found);
        return found;
    }

    /// <summary>
    /// Each object's owner; an object of the login role is in neither list. A superuser's object (<paramref name="kept"/>)
    /// the target's login role owns is a chosen difference.
    /// </summary>
    private static void Owners(Side source, Side target, RoleMap map, HashSet<string> kept, string why, Found found)
    {
        var login = map.TargetLogin;
        var expected = source.Owners.GroupBy(o => o.Object, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Owner, StringComparer.Ordinal);
        var actual = target.Owners.GroupBy(o => o.Object, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Owner, StringComparer.Ordinal);
        foreach (var name in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            var owner = expected.GetValueOrDefault(name);
            var (want, have) = (owner is null ? login : map[owner], actual.GetValueOrDefault(name, login));
            if (want == have)
            {
                continue;
            }

            if (owner is not null && kept.Contains(owner) && have == login)
            {
                found.Chosen.Add(new ChosenDifference("owner", name, $"owned by {want}", $"owned by {have}", why));
            }
            else
            {
                found.Differences.Add(new SchemaDifference("owner", name, DifferenceKind.Different, $"owned by {want}", $"owned by {have}"));
            }
        }
    }

    /// <summary>
    /// Each object's privileges beyond its owner's (and the default privileges), compared per object as lists. On a
    /// superuser's object the login role keeps (<paramref name="kept"/>), the grants to the login role are its owner's
    /// and the owner's own revokes are not carried: a target that has it so differs by --roles' choice.
    /// </summary>
    private static void Privileges(Side source, Side target, RoleMap map, HashSet<string> kept, string why, Found found)
    {
        var mapped = source.Access.Carried.Select(p => (Source: p, Mapped: p with { Owner = map[p.Owner], Grantee = p.Grantee is null ? null : map[p.Grantee] })).ToList();
        var expected = ByObject(mapped.Select(p => p.Mapped));
        var chosen = ByObject(mapped.Where(p => !kept.Contains(p.Source.Owner) || (p.Source.Grantee != p.Source.Owner && p.Mapped.Grantee != map.TargetLogin)).Select(p => p.Mapped));
        var actual = ByObject(target.Access.Carried);
        foreach (var key in expected.Keys.Union(actual.Keys).Union(chosen.Keys).Order())
        {
            var want = expected.GetValueOrDefault(key);
            var have = actual.GetValueOrDefault(key);
            var kind = key.Default ? "default privileges" : "privileges";
            if (want == have)
            {
                continue;
            }

            if (chosen.GetValueOrDefault(key) == have)
            {
                found.Chosen.Add(new ChosenDifference(kind, key.On, want ?? "none beyond the owner's", have ?? "none beyond the owner's", why));
            }
            else
            {
                found.Differences.Add(new SchemaDifference(kind, key.On,
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
    private static void Roles(Side source, Side target, RoleMap map, bool privileged, Found found)
    {
        var differences = found.Differences;
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

            // SUPERUSER, REPLICATION and BYPASSRLS: without --roles-with-privileged-attributes, a role lacking some the source's has is --roles' choice.
            var (asked, given) = (role.Privileged, other.Privileged);
            var withheld = !privileged && given.All(asked.Contains) && asked.Count > given.Count;
            if (Attributes(role) != Attributes(other) || (!withheld && !asked.SequenceEqual(given)))
            {
                differences.Add(new SchemaDifference("role", name, DifferenceKind.Different, Attributes(role) + Listed(asked), Attributes(other) + Listed(given)));
            }
            else if (withheld)
            {
                found.Chosen.Add(new ChosenDifference("role", name, string.Join(", ", asked), given.Count == 0 ? "none of them" : string.Join(", ", given),
                    "--roles gives SUPERUSER, REPLICATION and BYPASSRLS only with --roles-with-privileged-attributes"));
            }

            var expected = role.Memberships.Where(m => usedNames.Contains(m.Role) && map[m.Role] != name).Concat(role.Predefined).ToDictionary(m => map[m.Role], StringComparer.Ordinal);
            var actual = other.Memberships.Where(m => targetNames.Contains(m.Role)).Concat(other.Predefined).ToDictionary(m => m.Role, StringComparer.Ordinal);
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

    private static string Listed(IReadOnlyList<string> privileged) => privileged.Count == 0 ? "" : ", " + string.Join(", ", privileged).ToLowerInvariant();

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

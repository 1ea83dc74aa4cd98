using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>What the script is written for: the target's login role, whether it may create roles, the roles the target has, its database.</summary>
internal sealed record GrantTarget(string LoginRole, bool CanCreateRoles, IReadOnlySet<string> Roles, string Database)
{
    /// <summary>Reads them from a session on the target: the login role's rights (<see cref="RoleRights"/>) and its roles.</summary>
    public static async Task<GrantTarget> ReadAsync(Npgsql.NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var rights = await RoleRights.ReadAsync(conn, cancellationToken);
        var roles = (await DatabaseAccess.ReadRolesAsync(conn, cancellationToken)).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        return new GrantTarget(rights.LoginRole, rights.MayCreateRoles, roles, conn.Database);
    }
}

/// <summary>
/// The roles and privileges a restore without roles did not carry, as a script to run on the target
/// (<see cref="Render"/>). The source's login role stands for the target's, which owns every object there, so
/// grants to it are left out. Where the target's login role may create roles, the script creates the roles the
/// target lacks and their memberships; where it may not (Heroku: a credential stands in for a role), it says
/// which credentials to create, and a grant to a group role is given to each of its members instead, since
/// memberships cannot be made there.
/// </summary>
internal static class GrantScript
{
    public static IReadOnlyList<string> Render(DatabaseAccess access, GrantTarget target)
    {
        var lines = new List<string>
        {
            "-- Roles and privileges of the source that the restore did not carry (roles are not migrated).",
            $"-- Review, then run on the target as {target.LoginRole}: psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f THIS_FILE",
        };
        var roles = access.Roles.ToDictionary(r => r.Name, StringComparer.Ordinal);
        string Map(string role) => role == access.LoginRole ? target.LoginRole : role;

        // Each grantee stands for itself, or, without memberships, for itself and every role inheriting from it.
        Func<string, IEnumerable<string>> standsFor = role => [role];
        if (target.CanCreateRoles)
        {
            RolesToCreate(access, target, lines);
        }
        else
        {
            Credentials(access, target, lines);
            standsFor = role => MembersOf(role, access.Roles).Prepend(role).Distinct(StringComparer.Ordinal);
        }

        var predefined = access.Roles.SelectMany(r => r.Predefined.Select(m => Grant(m, Map(r.Name)) + ";")).ToList();
        if (predefined.Count > 0)
        {
            lines.Add("");
            lines.Add(target.CanCreateRoles
                ? "-- Memberships in predefined roles (a superuser, or from PostgreSQL 16 a role with ADMIN OPTION on them, may grant them)"
                : $"-- Memberships in predefined roles on the source: {target.LoginRole} may not grant them; ask the provider");
            lines.AddRange(target.CanCreateRoles ? predefined : predefined.Select(s => "--   " + s));
        }

        var (grants, defaults) = Statements(access.Privileges, Map, standsFor, target.LoginRole, target.Database, keepLoginRole: false);
        if (grants.Count > 0)
        {
            lines.Add("");
            lines.Add("-- Privileges on objects");
            lines.AddRange(grants);
        }

        if (defaults.Count > 0)
        {
            lines.Add("");
            lines.Add("-- Default privileges of objects created later");
            lines.AddRange(defaults);
        }

        var settings = access.Roles.SelectMany(r => r.DatabaseSettings.Select(setting => TargetRoles.SetStatement(Map(r.Name), target.Database, setting) + ";")).ToList();
        if (settings.Count > 0)
        {
            lines.Add("");
            lines.Add(target.CanCreateRoles
                ? "-- Settings of roles in this database (ALTER ROLE ... IN DATABASE; PostgreSQL 16+: needs ADMIN OPTION on the role)"
                : $"-- Settings of roles in this database on the source: {target.LoginRole} may not give them (ALTER ROLE needs CREATEROLE); ask the provider");
            lines.AddRange(target.CanCreateRoles ? settings : settings.Select(s => "--   " + s));
        }

        if (access.PolicyRoles.Count > 0)
        {
            lines.Add("");
            lines.Add("-- The restored row-level security policies name these roles (already on the target, or the restore would have failed):");
            lines.AddRange(access.PolicyRoles.Select(p => $"--   {p}"));
        }

        if (access.Owners.Count > 0)
        {
            lines.Add("");
            lines.Add($"-- Objects owned by {string.Join(", ", access.Owners)} on the source are owned by {target.LoginRole} on the target.");
        }

        return lines;
    }

    /// <summary>
    /// The GRANT and REVOKE statements that give the target <paramref name="privileges"/>, and the ALTER DEFAULT
    /// PRIVILEGES ones, each grantee and owner written as <paramref name="map"/> names it on the target, standing for
    /// the roles <paramref name="standsFor"/> says. Grants to the target's login role are left out unless
    /// <paramref name="keepLoginRole"/> (--roles gives objects back to other owners, who then grant it).
    /// </summary>
    public static (List<string> Grants, List<string> Defaults) Statements(IEnumerable<Privilege> privileges, Func<string, string> map, Func<string, IEnumerable<string>> standsFor, string loginRole, string database, bool keepLoginRole)
    {
        var all = privileges.ToList();
        var grants = new List<string>();
        foreach (var group in all.Where(p => !p.IsDefault).GroupBy(p => (p.Kind == "COLUMN" ? "TABLE" : p.Kind, p.Object, p.Grantee, p.Grantable, p.Revoke, Columns: p.Kind == "COLUMN")))
        {
            var on = group.Key.Item1 == "DATABASE" ? $"DATABASE {Db.Ident(database)}" : $"{group.Key.Item1} {group.Key.Object}";
            var names = group.Key.Columns
                ? string.Join(", ", group.GroupBy(p => p.Name).Select(g => $"{g.Key} ({string.Join(", ", g.Select(p => p.Column))})"))
                : string.Join(", ", group.Select(p => p.Name).Distinct(StringComparer.Ordinal));
            foreach (var grantee in Grantees(group.Key.Grantee, map, standsFor, keepLoginRole ? null : loginRole))
            {
                grants.Add(group.Key.Revoke
                    ? $"REVOKE {names} ON {on} FROM {grantee};"
                    : $"GRANT {names} ON {on} TO {grantee}{(group.Key.Grantable ? " WITH GRANT OPTION" : "")};");
            }
        }

        var defaults = new List<string>();
        foreach (var group in all.Where(p => p.IsDefault).GroupBy(p => (p.Kind, p.Object, p.Owner, p.Grantee, p.Grantable, p.Revoke)))
        {
            var owner = map(group.Key.Owner);
            var forRole = owner == loginRole ? "" : $" FOR ROLE {Db.Ident(owner)}";
            var inSchema = group.Key.Object is null ? "" : $" IN SCHEMA {group.Key.Object}";
            var kind = group.Key.Kind["DEFAULT ".Length..] switch { "ROUTINES" => "FUNCTIONS", var k => k };
            var names = string.Join(", ", group.Select(p => p.Name).Distinct(StringComparer.Ordinal));
            foreach (var grantee in Grantees(group.Key.Grantee, map, standsFor, keepLoginRole ? null : loginRole))
            {
                defaults.Add(group.Key.Revoke
                    ? $"ALTER DEFAULT PRIVILEGES{forRole}{inSchema} REVOKE {names} ON {kind} FROM {grantee};"
                    : $"ALTER DEFAULT PRIVILEGES{forRole}{inSchema} GRANT {names} ON {kind} TO {grantee}{(group.Key.Grantable ? " WITH GRANT OPTION" : "")};");
            }
        }

        return (grants, defaults);
    }

    /// <summary>A membership in a predefined role given: "GRANT pg_monitor TO app WITH ADMIN OPTION" (no semicolon).</summary>
    public static string Grant(Membership group, string member) =>
        $"GRANT {Db.Ident(group.Role)} TO {Db.Ident(member)}{(group.Admin ? " WITH ADMIN OPTION" : "")}";

    /// <summary>
    /// After --roles: the memberships in predefined roles the roles the database uses have on the source and lack on
    /// the target (<paramref name="targetRoles"/>), named by <paramref name="map"/>, as a script for a role that may
    /// grant them (the roles step's login role could not); empty when none is missing.
    /// </summary>
    public static List<string> RenderPredefined(DatabaseAccess access, RoleMap map, IReadOnlyList<RoleFacts> targetRoles)
    {
        var there = targetRoles.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var grants = access.Roles.Where(r => map[r.Name] != map.TargetLogin)
            .SelectMany(r => r.Predefined
                .Where(m => !(there.TryGetValue(map[r.Name], out var t) && t.Predefined.Any(h => h.Role == m.Role)))
                .Select(m => Grant(m, map[r.Name]) + ";"))
            .ToList();
        return grants.Count == 0 ? [] :
        [
            "-- Memberships in predefined roles of the source that --roles could not give: its login role may not grant them.",
            "-- Run on the target as a superuser (or, from PostgreSQL 16, a role with ADMIN OPTION on them): psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f THIS_FILE",
            .. grants,
        ];
    }

    /// <summary>The roles to create where the login role may: those the target lacks, then the memberships among them.</summary>
    private static void RolesToCreate(DatabaseAccess access, GrantTarget target, List<string> lines)
    {
        if (access.Roles.Count == 0)
        {
            return;
        }

        lines.Add("");
        lines.Add("-- Roles (give each that logs in a password: \\password NAME)");
        foreach (var role in access.Roles)
        {
            var create = $"CREATE ROLE {Db.Ident(role.Name)} {(role.CanLogin ? "LOGIN" : "NOLOGIN")}{(role.Inherit ? "" : " NOINHERIT")};";
            lines.Add(target.Roles.Contains(role.Name) ? $"-- {create} (the target has it)" : create);
        }

        var used = access.Roles.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var role in access.Roles)
        {
            foreach (var group in role.MemberOf.Where(used.Contains))
            {
                lines.Add($"GRANT {Db.Ident(group)} TO {Db.Ident(role.Name)}{(role.AdminOf.Contains(group) ? " WITH ADMIN OPTION" : "")};");
            }
        }
    }

    /// <summary>Where the login role may not create roles (Heroku): the credentials that stand in for them.</summary>
    private static void Credentials(DatabaseAccess access, GrantTarget target, List<string> lines)
    {
        var missing = access.Roles.Where(r => !target.Roles.Contains(r.Name)).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        lines.Add("");
        lines.Add($"-- {target.LoginRole} may not create roles. On Heroku a credential stands in for a role: create one per role first,");
        lines.Add("-- then run this file. Memberships cannot be made there, so a group's grants are given to each of its members.");
        foreach (var role in missing)
        {
            lines.Add($"--   heroku pg:credentials:create DATABASE --name {role.Name} --app APP");
        }
    }

    private static IEnumerable<string> Grantees(string? grantee, Func<string, string> map, Func<string, IEnumerable<string>> standsFor, string? leftOut)
    {
        if (grantee is null)
        {
            return ["PUBLIC"];
        }

        // The login role owns every object on the target: it needs no grant.
        return standsFor(grantee).Select(map).Where(r => r != leftOut).Distinct(StringComparer.Ordinal).Select(Db.Ident);
    }

    /// <summary>Every role that inherits <paramref name="group"/>'s privileges, through memberships.</summary>
    private static IEnumerable<string> MembersOf(string group, IReadOnlyList<RoleFacts> roles)
    {
        var found = new List<string>();
        var pending = new Stack<string>([group]);
        while (pending.TryPop(out var current))
        {
            foreach (var member in roles.Where(r => r.Inherit && r.MemberOf.Contains(current) && !found.Contains(r.Name)))
            {
                found.Add(member.Name);
                pending.Push(member.Name);
            }
        }

        return found;
    }
}

using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Targets;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Roles do not travel with a database dump: objects owned by other roles end up owned by the target's
/// login role, grants and default privileges are dropped, a policy naming a role the target lacks fails, and
/// objects only a superuser may create fail on a managed target. One row each, listing every item
/// (<see cref="DatabaseAccess"/>, the reader the cutover summary's script is written from).
/// </summary>
internal sealed class OwnershipCheck : IPreflightCheck
{
    public string Name => "roles and ownership";

    // Functions in C or internal: only a superuser may create them, outside of an extension. Every
    // aggregate's pg_proc row says internal too, but CREATE AGGREGATE needs no superuser: not those.
    private static readonly string SuperuserOnlySql = CatalogSql.Load("Preflight/Checks/SuperuserOnlyFunctions.sql");

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var targetRole = context.TargetServer?.User ?? "the target's login role";
        var access = await DatabaseAccess.ReadAsync(context.Source, cancellationToken);
        var targetRoles = context.Target is null ? null
            : (await DatabaseAccess.ReadRolesAsync(context.Target, cancellationToken)).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        if (context.Roles)
        {
            return [await RolesAsync(context, access, cancellationToken), .. await SuperuserOnlyAsync(context, targetRole, cancellationToken)];
        }

        var script = "The cutover summary of 'pgrelocate migrate' writes them as a script to reapply (grants.sql in the migration's folder)";

        var rows = new List<CheckResult>
        {
            Findings.WarnIfAny("owners", access.Owners, $"Every object is owned by {context.SourceServer.User}.", "other roles own objects",
                $"Nothing to fix: the restore makes {targetRole} their owner; recreate those roles on the target if applications log in as them."),
            Findings.WarnIfAny("roles", access.Roles.Select(Describe).ToList(),
                "The database uses no role but the login role.", "roles the database uses are not migrated",
                "Create them on the target (on Heroku: heroku pg:credentials:create --name ROLE) before the applications log in as them; their settings in this database are in the script of the cutover summary (grants.sql); where the target's login role may create roles, migrate --roles does it and keeps owners and grants (check --roles says whether it may)."),
            Findings.WarnIfAny("grants", access.Privileges.Where(p => !p.IsDefault).Select(p => p.ToString()).ToList(), "No grants to other roles.", "privileges will not be carried",
                script + "; run it once the roles exist."),
            Findings.WarnIfAny("default privileges", access.Privileges.Where(p => p.IsDefault).Select(p => p.ToString()).ToList(), "No default privileges.", "default privileges will not be carried",
                script + "."),
            TargetPreparation.PolicyRoles(access.PolicyRoles, targetRoles),
        };
        rows.AddRange(await SuperuserOnlyAsync(context, targetRole, cancellationToken));
        return rows;
    }

    /// <summary>
    /// With --roles, one row: whether the target's login role may create the roles the database uses (CREATEROLE or
    /// superuser), blocking when not, and whether it will have the privileges of the roles it gives objects to
    /// (<see cref="InheritanceGap"/>: blocking where --roles needs them); the roles to create and those the target
    /// has already; the rest is carried. A mistake of --map-role (<see cref="RoleMap.Check"/>) is refused (exit 2).
    /// Warned about, each named: the roles created without the SUPERUSER, REPLICATION or BYPASSRLS of the source's
    /// (blocking when --roles-with-privileged-attributes asks for them and the login role may not give them), the
    /// memberships in predefined roles it may not grant, the settings it may not give, renames this database does not use.
    /// </summary>
    private static async Task<CheckResult> RolesAsync(PreflightContext context, DatabaseAccess access, CancellationToken cancellationToken)
    {
        const string name = "roles";
        var carried = $"{access.Roles.Count} roles, {access.Privileges.Count(p => !p.IsDefault)} grants, {access.Privileges.Count(p => p.IsDefault)} default privileges and {access.PolicyRoles.Count} policy roles";
        var details = access.Roles.Select(Describe)
            .Concat(access.Owners.Select(o => $"owner: {o}")).ToList();
        if (context.Target is null)
        {
            return CheckResult.Warn(name, $"--roles would carry {carried}.", "Run check --roles with --target to know whether the target's login role may create roles.") with { Details = details };
        }

        var rights = await RoleRights.ReadAsync(context.Target, cancellationToken);
        if (rights.Missing is { } missing)
        {
            return CheckResult.Block(name, $"--roles cannot work: {missing}; the source uses {carried}.",
                $"Ask the provider for CREATEROLE (GRANT it, or ALTER ROLE {rights.LoginRole} CREATEROLE as a superuser), or migrate without --roles: check then lists what is not carried and the cutover summary writes it as a script (on Heroku: credentials stand in for roles).") with { Details = details };
        }

        // A login role that would not inherit the owners' privileges: the owners and grants step, the verify and the follow need them.
        var gap = await InheritanceGap.FindAsync(context.Source, context.Target, access, rights, RoleMap.For(context.RoleRenames, access.LoginRole, rights.LoginRole), cancellationToken);
        if (gap is { Blocks: true })
        {
            return CheckResult.Block(name, $"--roles cannot work: {gap.Problem}; the source uses {carried}.", gap.Fix) with { Details = details };
        }

        var map = RoleMap.For(context.RoleRenames, access.LoginRole, rights.LoginRole);
        var targetRoles = await DatabaseAccess.ReadRolesAsync(context.Target, cancellationToken);
        var (mistake, unused) = map.Check(access, rights.Superuser, targetRoles);
        if (mistake is not null)
        {
            throw new Errors.UsageException(Errors.Sentences.NothingWasChanged(mistake));
        }

        var existing = targetRoles.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var have = access.Roles.Count(r => existing.Contains(map[r.Name]));
        var created = access.Roles.Where(r => map[r.Name] != rights.LoginRole && !existing.Contains(map[r.Name])).ToList();
        var privileged = created.Where(r => r.Privileged.Count > 0).Select(r => $"{map[r.Name]} ({string.Join(", ", r.Privileged)})").ToList();
        if (context.PrivilegedAttributes && TargetRoles.Ungivable(access, map, rights, existing.Contains) is { Count: > 0 } ungivable)
        {
            return CheckResult.Block(name, $"--roles-with-privileged-attributes: {rights.LoginRole} may not give {string.Join("; ", ungivable)}.",
                "Migrate as a superuser of the target, or leave out --roles-with-privileged-attributes: the roles are then created without them.") with { Details = details };
        }

        var warnings = new List<(string Found, string Next)>();
        if (privileged.Count > 0 && !context.PrivilegedAttributes)
        {
            warnings.Add(($"{privileged.Count} roles to create have privileged attributes on the source, which --roles leaves out: {string.Join("; ", privileged)}",
                "Nothing to do if they need not be privileged on the target; to carry them, add --roles-with-privileged-attributes (a superuser may give SUPERUSER, from PostgreSQL 16 a CREATEROLE role the REPLICATION and BYPASSRLS it has)."));
        }

        var ungranted = new List<string>();
        foreach (var (role, group) in access.Roles.Where(r => map[r.Name] != rights.LoginRole).SelectMany(r => r.Predefined.Select(m => (r, m.Role))))
        {
            if (!targetRoles.Any(t => t.Name == map[role.Name] && t.Predefined.Any(m => m.Role == group)) && !await rights.MayGrantAsync(context.Target, group, cancellationToken))
            {
                ungranted.Add($"{map[role.Name]} in {group}");
            }
        }

        if (ungranted.Count > 0)
        {
            warnings.Add(($"{rights.LoginRole} may not grant the memberships in predefined roles of {string.Join(", ", ungranted)}",
                "Grant them as a superuser after the roles step (the cutover summary's grants.sql lists them), or give the login role ADMIN OPTION on those predefined roles."));
        }

        if (unused.Count > 0)
        {
            warnings.Add((string.Join("; ", unused.Select(map.Unused)), "Check the names of --map-role: a rename of a role the database does not use does nothing."));
        }
        // A role the target has gets its settings in this database only where the login role may alter it:
        // a superuser role needs a superuser, and from PostgreSQL 16 on any other needs ADMIN OPTION on it.
        var unsettable = new List<string>();
        foreach (var role in access.Roles.Where(r => r.DatabaseSettings.Count > 0 && existing.Contains(map[r.Name]) && !rights.Superuser))
        {
            var may = !role.Superuser && (rights.Major < 16
                || await Db.ScalarAsync<bool>(context.Target, $"SELECT pg_catalog.pg_has_role(current_user, {Db.Literal(role.Name)}, 'MEMBER WITH ADMIN OPTION')", cancellationToken));
            if (!may)
            {
                unsettable.Add($"{role.Name} ({string.Join(", ", role.DatabaseSettings)})");
            }
        }

        if (gap is not null)
        {
            warnings.Insert(0, (gap.Problem, gap.Fix));
        }

        if (unsettable.Count > 0)
        {
            warnings.Add(($"{rights.LoginRole} may create roles, but may not give the settings in this database of roles the target has: {string.Join("; ", unsettable)}",
                $"Give {rights.LoginRole} ADMIN OPTION on them (GRANT role TO {rights.LoginRole} WITH ADMIN OPTION, as their creator or a superuser), or set them after the migration with ALTER ROLE ... IN DATABASE ... SET; the roles step lists them."));
        }

        if (warnings.Count > 0)
        {
            return CheckResult.Warn(name, $"{string.Join("; ", warnings.Select(w => w.Found))}; --roles carries the rest ({carried}).", string.Join(" ", warnings.Select(w => Errors.Sentences.End(w.Next)))) with { Details = details };
        }

        var given = context.PrivilegedAttributes && privileged.Count > 0 ? $"; given their privileged attributes as on the source (--roles-with-privileged-attributes): {string.Join("; ", privileged)}" : "";
        return CheckResult.Ok(name, $"{rights.LoginRole} may create roles{(rights.Superuser ? " (superuser)" : " (CREATEROLE)")}: --roles carries {carried}; {access.Roles.Count - have} roles to create, {have} on the target already (reused){given}.") with { Details = details };
    }

    /// <summary>"reporter (login, member of readers, in this database: work_mem=8MB)": a role as the roles row lists it.</summary>
    private static string Describe(RoleFacts r) =>
        $"{r.Name} ({(r.CanLogin ? "login" : "no login")}{string.Concat(r.Privileged.Select(a => ", " + a))}" +
        $"{(r.MemberOf.Count + r.Predefined.Count > 0 ? ", member of " + string.Join(", ", r.MemberOf.Concat(r.Predefined.Select(m => m.Role))) : "")}" +
        $"{(r.DatabaseSettings.Count > 0 ? ", in this database: " + string.Join(", ", r.DatabaseSettings) : "")})";

    private static async Task<List<CheckResult>> SuperuserOnlyAsync(PreflightContext context, string targetRole, CancellationToken cancellationToken)
    {
        var superuserOnly = await Db.ListAsync(context.Source, SuperuserOnlySql, r => r.GetString(0), cancellationToken);
        var rows = new List<CheckResult>();
        if (superuserOnly.Count == 0)
        {
            rows.Add(CheckResult.Ok("superuser-only objects", "None."));
        }
        else if (context.TargetServer is { IsSuperuser: false })
        {
            rows.Add(CheckResult.Block("superuser-only objects", $"{superuserOnly.Count} functions only a superuser may create: {Findings.Names(superuserOnly)}.",
                $"Drop them on the source or have the target's provider create them: {targetRole} is not a superuser.") with { Details = superuserOnly });
        }
        else
        {
            rows.Add(CheckResult.Warn("superuser-only objects", $"{superuserOnly.Count} functions only a superuser may create: {Findings.Names(superuserOnly)}.",
                "Restore as a superuser, or drop them on the source if a managed target will not allow them.") with { Details = superuserOnly });
        }

        return rows;
    }
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Catalog;

/// <summary>
/// What the target's login role may do about roles: create them, give the attributes only some may, and whether
/// it inherits the privileges of the roles it is a member of (INHERIT).
/// </summary>
internal sealed record RoleRights(string LoginRole, bool Superuser, bool CreateRole, bool Replication, bool BypassRls, int Major)
{
    public bool MayCreateRoles => Superuser || CreateRole;

    /// <summary>The login role's INHERIT attribute (PostgreSQL 16+: the default of its memberships' INHERIT option).</summary>
    public bool Inherit { get; init; } = true;

    /// <summary>
    /// Whether it may create a role with <paramref name="attribute"/> (SUPERUSER, REPLICATION, BYPASSRLS): a superuser
    /// may; from PostgreSQL 16 on, a CREATEROLE role may give the REPLICATION and BYPASSRLS it has.
    /// </summary>
    public bool MayGive(string attribute) => Superuser || (Major >= 16 && attribute switch
    {
        "REPLICATION" => Replication,
        "BYPASSRLS" => BypassRls,
        _ => false,
    });

    /// <summary>
    /// Whether it may grant membership in the predefined role <paramref name="role"/> (pg_monitor, ...): a superuser,
    /// a role with ADMIN OPTION on it, or before PostgreSQL 16 a CREATEROLE role.
    /// </summary>
    public async Task<bool> MayGrantAsync(NpgsqlConnection conn, string role, CancellationToken cancellationToken) =>
        Superuser || (Major < 16 && CreateRole)
        || await Db.ScalarAsync<bool>(conn, $"SELECT pg_catalog.pg_has_role(current_user, {Db.Literal(role)}, 'MEMBER WITH ADMIN OPTION')", cancellationToken);

    /// <summary>What is missing for --roles, in words; null when nothing is.</summary>
    public string? Missing => MayCreateRoles ? null : $"{LoginRole} may not create roles (it has neither CREATEROLE nor SUPERUSER)";

    public static Task<RoleRights> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.SingleAsync(conn,
            "SELECT current_user::text, rolsuper, rolcreaterole, rolreplication, rolbypassrls, current_setting('server_version_num')::int / 10000, rolinherit FROM pg_catalog.pg_roles WHERE rolname = current_user",
            r => new RoleRights(r.GetString(0), r.GetBoolean(1), r.GetBoolean(2), r.GetBoolean(3), r.GetBoolean(4), r.GetInt32(5)) { Inherit = r.GetBoolean(6) }, cancellationToken);

    /// <summary>
    /// The roles, as named on the target, that --roles gives objects or default privileges to, but the login role:
    /// the owners and the roles whose future objects have default privileges, but a superuser the login role is not.
    /// </summary>
    public IReadOnlyList<string> OwnersToBe(DatabaseAccess access, RoleMap map) =>
    [
        .. access.Owners
            .Concat(access.Carried.Where(p => p.IsDefault).Select(p => p.Owner))
            .Where(o => Superuser || !access.Roles.Any(r => r.Name == o && r.Superuser))
            .Select(o => map[o]).Where(o => o != LoginRole).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal),
    ];
}

/// <summary>
/// The roles --roles gives objects to whose privileges the login role would not have (a NOINHERIT login role; from
/// PostgreSQL 16 also a membership granted without INHERIT, which the roles step leaves as it is), what of --roles
/// needs them (<see cref="Failing"/>: the owners and grants step's GRANT and REVOKE on their objects, from
/// PostgreSQL 16 ALTER DEFAULT PRIVILEGES FOR ROLE, reading and writing their tables: migrate's verify, an
/// online follow), and the fix. Giving them their objects needs membership only: that works without it.
/// </summary>
internal sealed record InheritanceGap(string LoginRole, IReadOnlyList<string> Roles, IReadOnlyList<string> Failing, string Fix)
{
    /// <summary>Something of --roles would fail: refused before any change.</summary>
    public bool Blocks => Failing.Count > 0;

    public string Problem =>
        $"{LoginRole} does not inherit the privileges of the roles --roles gives objects to ({string.Join(", ", Roles)})" +
        (Blocks ? $", which {string.Join(", ", Failing)} need" : ": it gives them their objects, and cannot use those objects afterwards");

    /// <summary>The gap, or null when the login role will have every owner's privileges (or is a superuser).</summary>
    public static async Task<InheritanceGap?> FindAsync(NpgsqlConnection source, NpgsqlConnection target, DatabaseAccess access, RoleRights rights, RoleMap map, CancellationToken cancellationToken)
    {
        if (rights.Superuser)
        {
            return null;
        }

        var existing = (await DatabaseAccess.ReadRolesAsync(target, cancellationToken)).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var (roles, memberships) = (new List<string>(), new List<string>());
        foreach (var owner in rights.OwnersToBe(access, map))
        {
            async Task<bool> Has(string privilege) =>
                existing.Contains(owner) && await Db.ScalarAsync<bool>(target, $"SELECT pg_catalog.pg_has_role(current_user, {Db.Literal(owner)}, '{privilege}')", cancellationToken);

            if (await Has("USAGE"))
            {
                continue;
            }

            if (rights.Major >= 16 && await Has("SET"))
            {
                // A member already, without INHERIT: the roles step grants no other membership.
                memberships.Add(owner);
                roles.Add(owner);
            }
            else if (!rights.Inherit)
            {
                roles.Add(owner);
            }
        }

        if (roles.Count == 0)
        {
            return null;
        }

        bool Theirs(string owner) => roles.Contains(map[owner]);
        var failing = new List<string>();
        var grants = access.Carried.Count(p => !p.IsDefault && p.Kind != "DATABASE" && Theirs(p.Owner));
        if (grants > 0)
        {
            failing.Add($"{grants} grants and revokes on their objects");
        }

        var defaults = access.Carried.Count(p => p.IsDefault && Theirs(p.Owner));
        if (defaults > 0 && rights.Major >= 16)
        {
            failing.Add($"{defaults} default privileges of theirs (ALTER DEFAULT PRIVILEGES FOR ROLE, from PostgreSQL 16)");
        }

        var tables = (await DatabaseAccess.ReadObjectOwnersAsync(source, cancellationToken)).Count(o => o.Object.StartsWith("TABLE ", StringComparison.Ordinal) && Theirs(o.Owner));
        if (tables > 0)
        {
            failing.Add($"{Sentences.Counted(tables, "table")} of theirs that migrate's verify reads and an online follow writes");
        }

        var fixes = new List<string>();
        if (!rights.Inherit && roles.Count > memberships.Count)
        {
            fixes.Add($"ALTER ROLE {Db.Ident(rights.LoginRole)} INHERIT{(rights.Major >= 16 ? " (from PostgreSQL 16 as a superuser or a role with ADMIN OPTION on it)" : "")}");
        }

        if (memberships.Count > 0)
        {
            fixes.Add($"GRANT {string.Join(", ", memberships.Select(Db.Ident))} TO {Db.Ident(rights.LoginRole)} WITH INHERIT TRUE (it is a member without INHERIT)");
        }

        var fix = $"Run {string.Join(", and ", fixes)} on the target";
        return new InheritanceGap(rights.LoginRole, roles, failing, failing.Count > 0 ? fix + ", then run again." : fix + " for it to use those objects.");
    }
}

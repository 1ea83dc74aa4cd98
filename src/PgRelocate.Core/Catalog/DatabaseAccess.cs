using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// One privilege of the source that a restore without roles does not carry (Privileges.sql): a grant to a
/// role other than the owner or to PUBLIC, or a privilege revoked from PostgreSQL's default. <see cref="Kind"/>
/// is TABLE, SEQUENCE, COLUMN, SCHEMA, ROUTINE, TYPE, DOMAIN, LARGE OBJECT, DATABASE, or DEFAULT TABLES,
/// SEQUENCES, ROUTINES, TYPES, SCHEMAS (ALTER DEFAULT PRIVILEGES; <see cref="Object"/> is then the schema or
/// null, and <see cref="Owner"/> the role whose future objects it is for). Names are quoted already;
/// <see cref="Grantee"/> is a role's name as it is, null for PUBLIC.
/// </summary>
public sealed record Privilege(string Kind, string? Object, string? Column, string Owner, string? Grantee, string Name, bool Grantable, bool Revoke)
{
    public bool IsDefault => Kind.StartsWith("DEFAULT ", StringComparison.Ordinal);

    /// <summary>What it is on: "TABLE public.orders", "COLUMN public.orders.total", "the database", "future tables of app in schema shop".</summary>
    public string On => Kind switch
    {
        "DATABASE" => "the database",
        "COLUMN" => $"COLUMN {Object}.{Column}",
        _ when IsDefault => $"future {Kind["DEFAULT ".Length..].ToLowerInvariant()} of {Owner}{(Object is null ? "" : " in schema " + Object)}",
        _ => $"{Kind} {Object}",
    };

    /// <summary>What is granted to whom, without what on: "SELECT to readers", "EXECUTE revoked from PUBLIC".</summary>
    public string Entry => Revoke ? $"{Name} revoked from {Grantee ?? "PUBLIC"}" : $"{Name}{(Grantable ? " WITH GRANT OPTION" : "")} to {Grantee ?? "PUBLIC"}";

    /// <summary>"SELECT on TABLE public.orders to readers", for a check's details.</summary>
    public override string ToString()
    {
        var who = Grantee ?? "PUBLIC";
        return Revoke ? $"{Name} on {On} revoked from {who}" : $"{Name}{(Grantable ? " WITH GRANT OPTION" : "")} on {On} to {who}";
    }
}

/// <summary>A role a row-level security policy names (CREATE POLICY ... TO role).</summary>
public sealed record PolicyRole(string Table, string Policy, string Role)
{
    public override string ToString() => $"policy {Policy} on {Table} to {Role}";
}

/// <summary>
/// One membership of a role in another: with ADMIN OPTION, and (PostgreSQL 16+; null before) whether it
/// inherits the group's privileges and may SET ROLE to it.
/// </summary>
public sealed record Membership(string Role, bool Admin, bool? Inherit, bool? Set);

/// <summary>
/// A role of the server: whether it logs in and inherits, the roles it is a member of (and of which with ADMIN
/// OPTION); and what --roles carries besides (Roles.sql): its connection limit (-1: none), VALID UNTIL (UTC, ISO
/// 8601), the attributes only some may give, its own settings (name=value), its settings in the database read
/// (ALTER ROLE ... IN DATABASE ... SET), and its memberships with their options.
/// </summary>
public sealed record RoleFacts(string Name, bool CanLogin, bool Inherit, IReadOnlyList<string> MemberOf, IReadOnlyList<string> AdminOf)
{
    public int ConnectionLimit { get; init; } = -1;

    public string? ValidUntil { get; init; }

    public bool Superuser { get; init; }

    public bool Replication { get; init; }

    public bool BypassRls { get; init; }

    public IReadOnlyList<string> Settings { get; init; } = [];

    /// <summary>Its settings in the database the session is on only (pg_db_role_setting of that database), name=value.</summary>
    public IReadOnlyList<string> DatabaseSettings { get; init; } = [];

    /// <summary>Its memberships with their options, one per group (several grantors' grants merged).</summary>
    public IReadOnlyList<Membership> Memberships { get; init; } = [];

    /// <summary>Its memberships in predefined roles (pg_monitor, pg_read_all_data, ...), the same way: not among <see cref="MemberOf"/>.</summary>
    public IReadOnlyList<Membership> Predefined { get; init; } = [];

    /// <summary>The attributes --roles carries only when asked (--roles-with-privileged-attributes): SUPERUSER, REPLICATION, BYPASSRLS.</summary>
    public IReadOnlyList<string> Privileged =>
        [.. new[] { (Superuser, "SUPERUSER"), (Replication, "REPLICATION"), (BypassRls, "BYPASSRLS") }.Where(a => a.Item1).Select(a => a.Item2)];
}

/// <summary>
/// Who a database's objects belong to and who may use them, as the source has it: the privileges a restore
/// without roles does not carry, the roles its policies name, the roles other than the login role that own its
/// objects, and the roles it uses (owners, grantees, policy roles and the roles they are members of). The check
/// lists it; the cutover summary turns it into a script to reapply (<see cref="GrantScript"/>).
/// </summary>
public sealed record DatabaseAccess(string LoginRole, IReadOnlyList<Privilege> Privileges, IReadOnlyList<PolicyRole> PolicyRoles, IReadOnlyList<string> Owners, IReadOnlyList<RoleFacts> Roles)
{
    /// <summary>
    /// The grants to the login role on objects other roles own: left out of <see cref="Privileges"/> (the target's
    /// login role owns every object after a restore), carried by --roles, which gives those objects their owners back.
    /// </summary>
    public IReadOnlyList<Privilege> ToLoginRole { get; init; } = [];

    /// <summary>
    /// What owners changed of their own privileges (REVOKE UPDATE ON t FROM its owner, on any kind of object, and on
    /// the default privileges of their own future objects): left out of <see cref="Privileges"/> (without --roles the
    /// target's login role owns every object), carried by --roles, which gives those objects their owners back.
    /// </summary>
    public IReadOnlyList<Privilege> OwnersOwn { get; init; } = [];

    /// <summary>Every privilege --roles carries: <see cref="Privileges"/>, <see cref="ToLoginRole"/> and <see cref="OwnersOwn"/>.</summary>
    public IEnumerable<Privilege> Carried => Privileges.Concat(ToLoginRole).Concat(OwnersOwn);

    /// <summary>Every role of the server but the predefined ones, as <see cref="ReadRolesAsync"/> read them (<see cref="Roles"/> are those the database uses).</summary>
    public IReadOnlyList<RoleFacts> ServerRoles { get; init; } = [];

    public static async Task<DatabaseAccess> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var login = await Db.ScalarAsync<string>(conn, "SELECT current_user", cancellationToken) ?? "";
        var privileges = await Db.ListAsync(conn, CatalogSql.Load("Privileges.sql"), r => new Privilege(
            r.GetString(0), r.NullableString(1), r.NullableString(2), r.GetString(3), r.NullableString(4), r.GetString(5), r.GetBoolean(6), r.GetBoolean(7)), cancellationToken);
        var used = privileges.ToList();
        var own = privileges.Where(p => p.Grantee == p.Owner).ToList();
        privileges.RemoveAll(p => p.Grantee == p.Owner);
        // The target's login role owns every object there, so a grant to the source's login role is not lost.
        var toLogin = privileges.Where(p => p.Grantee == login).ToList();
        privileges.RemoveAll(p => p.Grantee == login);
        var policies = await ReadPolicyRolesAsync(conn, cancellationToken);
        var owners = await Db.ListAsync(conn, CatalogSql.Load("Owners.sql"), r => r.GetString(0), cancellationToken);
        var roles = await ReadRolesAsync(conn, cancellationToken);
        return new DatabaseAccess(login, privileges, policies, owners, Used(login, used, policies, owners, roles)) { ToLoginRole = toLogin, OwnersOwn = own, ServerRoles = roles };
    }

    /// <summary>The roles the database's row-level security policies name (PUBLIC left out), one per policy and role.</summary>
    public static Task<List<PolicyRole>> ReadPolicyRolesAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, CatalogSql.Load("PolicyRoles.sql"), r => new PolicyRole(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken);

    /// <summary>Every role of the server but the predefined ones.</summary>
    public static Task<List<RoleFacts>> ReadRolesAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, CatalogSql.Load("Roles.sql"), r => new RoleFacts(
            r.GetString(0), r.GetBoolean(1), r.GetBoolean(2), r.GetFieldValue<string[]>(3), r.GetFieldValue<string[]>(4))
        {
            ConnectionLimit = r.GetInt32(5),
            ValidUntil = r.NullableString(6),
            Superuser = r.GetBoolean(7),
            Replication = r.GetBoolean(8),
            BypassRls = r.GetBoolean(9),
            Settings = r.GetFieldValue<string[]>(10),
            DatabaseSettings = r.GetFieldValue<string[]>(11),
            Memberships = MembershipsOf(r.GetString(12)),
            Predefined = MembershipsOf(r.GetString(13)),
        }, cancellationToken);

    /// <summary>
    /// The objects a role other than the login role owns (ObjectOwners.sql): what to alter ("TABLE shop.orders",
    /// "SCHEMA shop", "LARGE OBJECT 16401"), its schema (quoted; null for a schema or a large object), its owner.
    /// Names are qualified as the session's search_path requires: the caller sets an empty one (or pg_catalog).
    /// </summary>
    public static Task<List<(string Object, string? Schema, string Owner)>> ReadObjectOwnersAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, CatalogSql.Load("ObjectOwners.sql"), r => (r.GetString(0), r.NullableString(1), r.GetString(2)), cancellationToken);

    private static List<Membership> MembershipsOf(string json)
    {
        var rows = System.Text.Json.JsonDocument.Parse(json).RootElement.EnumerateArray()
            .Select(e => new Membership(
                e.GetProperty("role").GetString()!,
                e.GetProperty("admin").GetBoolean(),
                e.TryGetProperty("inherit", out var i) && i.ValueKind != System.Text.Json.JsonValueKind.Null ? i.GetBoolean() : null,
                e.TryGetProperty("set", out var s) && s.ValueKind != System.Text.Json.JsonValueKind.Null ? s.GetBoolean() : null));
        // PostgreSQL 16+ keeps one grant per grantor: what the member has is what any of them gives.
        return [.. rows.GroupBy(m => m.Role, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new Membership(
            g.Key, g.Any(m => m.Admin), g.Any(m => m.Inherit is null) ? null : g.Any(m => m.Inherit == true), g.Any(m => m.Set is null) ? null : g.Any(m => m.Set == true)))];
    }

    /// <summary>Nothing to carry: no privilege beyond the owner's, no policy naming a role, no other owner.</summary>
    public bool IsEmpty => Privileges.Count == 0 && PolicyRoles.Count == 0 && Owners.Count == 0;

    /// <summary>
    /// The roles the database uses besides the login role, by name: its owners, grantees and policy roles, the
    /// roles that are members of those (an application's login role in a read-only group), and the roles all of
    /// them are members of.
    /// </summary>
    private static List<RoleFacts> Used(string login, IReadOnlyList<Privilege> privileges, IReadOnlyList<PolicyRole> policies, IReadOnlyList<string> owners, IReadOnlyList<RoleFacts> all)
    {
        var byName = all.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var direct = privileges.Select(p => p.Grantee).OfType<string>()
            .Concat(privileges.Where(p => p.IsDefault).Select(p => p.Owner))
            .Concat(policies.Select(p => p.Role))
            .Concat(owners)
            .Where(n => n != login && byName.ContainsKey(n))
            .ToHashSet(StringComparer.Ordinal);
        var members = Closure(direct, name => all.Where(r => r.MemberOf.Contains(name)).Select(r => r.Name), login);
        var used = Closure(members, name => byName.TryGetValue(name, out var r) ? r.MemberOf : [], login);
        return [.. used.Where(byName.ContainsKey).Order(StringComparer.Ordinal).Select(n => byName[n])];
    }

    private static HashSet<string> Closure(IEnumerable<string> start, Func<string, IEnumerable<string>> next, string login)
    {
        var found = new HashSet<string>(start, StringComparer.Ordinal);
        var pending = new Stack<string>(found);
        while (pending.TryPop(out var name))
        {
            foreach (var other in next(name).Where(n => n != login && found.Add(n)))
            {
                pending.Push(other);
            }
        }

        return found;
    }
}

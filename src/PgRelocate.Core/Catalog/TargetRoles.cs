using System.Globalization;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Catalog;

/// <summary>One line of what --roles did about a role: its name on the target, what happened, why.</summary>
public sealed record RoleOutcome(string Role, string Action, string Note)
{
    /// <summary>The privileged attributes (SUPERUSER, REPLICATION, BYPASSRLS) the source's role has that it was created without, not asked for.</summary>
    public IReadOnlyList<string> Withheld { get; init; } = [];

    /// <summary>Worth a warning: not simply created (reused with other attributes, something left out, no password, a membership given).</summary>
    public bool Notable => Action != "created" || (Note.Length > 0 && !Note.StartsWith("with ", StringComparison.Ordinal));

    public override string ToString() => $"role {Role} {Action}: {Note}.";

    /// <summary>"2 created, 3 reused", and whether some reused differ.</summary>
    public static string Summary(IReadOnlyCollection<RoleOutcome> outcomes)
    {
        var created = outcomes.Count(o => o.Action == "created");
        var reused = outcomes.Count(o => o.Action.StartsWith("reused", StringComparison.Ordinal));
        var withheld = outcomes.Count(o => o.Withheld.Count > 0);
        return $"{created} created, {reused} reused{(outcomes.Any(o => o.Action == "reused, differs") ? " (some differ: see the report)" : "")}"
            + (withheld > 0 ? $", {withheld} without the SUPERUSER, REPLICATION or BYPASSRLS of the source's (see the warnings)" : "");
    }
}

/// <summary>
/// --roles, before anything is restored: creates on the target the roles the source database uses
/// (<see cref="DatabaseAccess.Roles"/>, named by the <see cref="RoleMap"/>) that it lacks, with LOGIN, INHERIT,
/// CONNECTION LIMIT, VALID UNTIL, their own settings and their settings in the source database (given in the
/// target database: ALTER ROLE ... IN DATABASE), memberships (with ADMIN OPTION) and memberships in predefined roles
/// where the login role may grant them; SUPERUSER, REPLICATION and BYPASSRLS only when asked
/// (--roles-with-privileged-attributes, refused before any change where the login role may not give them), else
/// created without them, and said. The --map-role renames are checked first (<see cref="RoleMap.Check"/>). The password is the source's SCRAM verifier where the
/// source's login role may read it (pg_authid), else none. A role the target has is reused and never altered,
/// but for the settings in the target database it lacks; where its attributes differ, the outcome says how.
/// Last, the login role is made a member of every role that will own objects or default privileges, as ALTER
/// ... OWNER TO requires (PostgreSQL 16+: with SET, which a CREATEROLE role has over the roles it created).
/// </summary>
internal static class TargetRoles
{
    /// <summary>The settings whose value is a list, stored as SQL writes it.</summary>
    private static readonly HashSet<string> ListSettings = new(StringComparer.OrdinalIgnoreCase)
    {
        "search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries", "shared_preload_libraries",
    };

    /// <summary>
    /// The one sequence every command with --roles runs before it writes the target (migrate's roles step, copy,
    /// an online migration): a session on each side, then <see cref="CreateAsync(NpgsqlConnection, NpgsqlConnection, IReadOnlyDictionary{string, string}, CancellationToken)"/>.
    /// Refuses before any change when the target's login role may not create roles, or would not inherit the
    /// privileges of the owners where the owners and grants step needs them (<see cref="InheritanceGap"/>): exit 3, as
    /// check --roles blocks.
    /// </summary>
    public static async Task<List<RoleOutcome>> CreateAsync(PgConnectionInfo source, PgConnectionInfo target, IReadOnlyDictionary<string, string> renames, bool privileged, CancellationToken cancellationToken)
    {
        await using var from = await Db.OpenAsync(source, "source", cancellationToken);
        await using var into = await Db.OpenAsync(target, "target", cancellationToken);
        return await CreateAsync(from, into, renames, privileged, cancellationToken);
    }

    /// <param name="privileged">--roles-with-privileged-attributes: give the roles created SUPERUSER, REPLICATION and BYPASSRLS where the source's have them.</param>
    public static async Task<List<RoleOutcome>> CreateAsync(NpgsqlConnection source, NpgsqlConnection target, IReadOnlyDictionary<string, string> renames, bool privileged, CancellationToken cancellationToken)
    {
        var access = await DatabaseAccess.ReadAsync(source, cancellationToken);
        var rights = await RoleRights.ReadAsync(target, cancellationToken);
        if (rights.Missing is { } missing)
        {
            throw new PgRelocateException($"--roles needs a target login role that may create roles: {missing}. Ask the provider for CREATEROLE, or migrate without --roles (the cutover summary then writes the grants to reapply).", ExitCode.Differences);
        }

        var map = RoleMap.For(renames, access.LoginRole, rights.LoginRole);
        var existing = (await DatabaseAccess.ReadRolesAsync(target, cancellationToken)).ToDictionary(r => r.Name, StringComparer.Ordinal);
        var (mistake, unused) = map.Check(access, rights.Superuser, existing.Values);
        if (mistake is not null)
        {
            throw new PgRelocateException(Sentences.NothingWasChanged(mistake), ExitCode.Usage);
        }

        if (privileged && Ungivable(access, map, rights, existing.ContainsKey) is { Count: > 0 } ungivable)
        {
            throw new PgRelocateException($"--roles-with-privileged-attributes: {rights.LoginRole} may not give {string.Join("; ", ungivable)}. Nothing was changed. Run as a superuser, or leave out --roles-with-privileged-attributes (the roles are then created without them).", ExitCode.Differences);
        }

        if (access.PolicyRoles.FirstOrDefault(p => map.Renames(p.Role)) is { } renamedPolicy)
        {
            throw new PgRelocateException($"--map-role renames {renamedPolicy.Role}, which {renamedPolicy} names: the restore creates policies with the source's role names. Leave that role out of --map-role.", ExitCode.Usage);
        }

        if (await InheritanceGap.FindAsync(source, target, access, rights, map, cancellationToken) is { Blocks: true } gap)
        {
            throw new PgRelocateException($"{gap.Problem}: the owners and grants step would fail. Nothing was changed. {gap.Fix}", ExitCode.Differences);
        }

        var verifiers = await VerifiersAsync(source, cancellationToken);
        var outcomes = unused.Select(u => new RoleOutcome(map[u], "not used", map.Unused(u))).ToList();
        foreach (var role in access.Roles.Where(r => map[r.Name] != rights.LoginRole))
        {
            var name = map[role.Name];
            if (existing.TryGetValue(name, out var there))
            {
                var differences = Differences(role, there);
                var set = await DatabaseSettingsAsync(target, name, role, there, rights, cancellationToken);
                outcomes.Add(differences.Count == 0
                    ? new RoleOutcome(name, "reused", string.Join("; ", set.Prepend("the target has it, with the same attributes")))
                    : new RoleOutcome(name, "reused, differs", string.Join("; ", set.Prepend($"the target has it, not altered: {string.Join("; ", differences)}"))));
                continue;
            }

            var (create, leftOut) = Create(role, name, privileged, verifiers.GetValueOrDefault(role.Name));
            await Db.ExecuteAsync(target, create, cancellationToken);
            var notes = new List<string>();
            foreach (var setting in role.Settings)
            {
                await SetAsync(target, name, null, setting, rights, notes, cancellationToken);
            }

            foreach (var setting in role.DatabaseSettings)
            {
                await SetAsync(target, name, target.Database, setting, rights, notes, cancellationToken);
            }

            if (leftOut.Count > 0)
            {
                notes.Add($"created without {string.Join(", ", leftOut)}, which the source's has: --roles gives them only with --roles-with-privileged-attributes");
            }
            else if (privileged && role.Privileged.Count > 0)
            {
                notes.Add($"given {string.Join(", ", role.Privileged)} as on the source (--roles-with-privileged-attributes)");
            }

            if (role.CanLogin && !verifiers.ContainsKey(role.Name))
            {
                notes.Add($"no password (the source's are not readable): set one with ALTER ROLE {Db.Ident(name)} PASSWORD '...' (psql: \\password {Db.Ident(name)})");
            }

            outcomes.Add(new RoleOutcome(name, "created", notes.Count == 0 ? (verifiers.ContainsKey(role.Name) ? "with the source's password" : "") : string.Join("; ", notes)) { Withheld = leftOut });
        }

        await MembershipsAsync(target, access, map, existing, rights, outcomes, cancellationToken);
        await PredefinedAsync(target, access, map, existing, rights, outcomes, cancellationToken);
        return outcomes;
    }

    /// <summary>
    /// The privileged attributes of the roles to create (those the target lacks, as <paramref name="exists"/> says) that
    /// the login role may not give, each "SUPERUSER to app_admin": what --roles-with-privileged-attributes cannot do.
    /// </summary>
    public static List<string> Ungivable(DatabaseAccess access, RoleMap map, RoleRights rights, Func<string, bool> exists) =>
    [
        .. access.Roles.Where(r => map[r.Name] != rights.LoginRole && !exists(map[r.Name]))
            .SelectMany(r => r.Privileged.Where(a => !rights.MayGive(a)).Select(a => $"{a} to {map[r.Name]}")),
    ];

    /// <summary>
    /// The memberships of the roles the database uses in predefined roles (pg_monitor, pg_read_all_data, ...) that
    /// the target's roles lack: granted where the login role may, else each named, with the statement to run.
    /// </summary>
    private static async Task PredefinedAsync(NpgsqlConnection target, DatabaseAccess access, RoleMap map, Dictionary<string, RoleFacts> existing, RoleRights rights, List<RoleOutcome> outcomes, CancellationToken cancellationToken)
    {
        foreach (var role in access.Roles.Where(r => map[r.Name] != rights.LoginRole))
        {
            var name = map[role.Name];
            var had = existing.TryGetValue(name, out var there) ? there.Predefined.Select(m => m.Role).ToHashSet(StringComparer.Ordinal) : [];
            foreach (var group in role.Predefined.Where(m => !had.Contains(m.Role)))
            {
                var grant = GrantScript.Grant(group, name);
                try
                {
                    await Db.ExecuteAsync(target, grant, cancellationToken);
                    outcomes.Add(new RoleOutcome(name, $"member of {group.Role}", "as on the source (a predefined role)"));
                }
                catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InsufficientPrivilege)
                {
                    outcomes.Add(new RoleOutcome(name, $"not member of {group.Role}", $"{rights.LoginRole} may not grant {group.Role} ({e.MessageText}): run {grant} as a superuser or a role with ADMIN OPTION on it; the cutover summary's grants.sql lists it"));
                }
            }
        }
    }

    /// <summary>
    /// A reused role's settings in this database (ALTER ROLE ... IN DATABASE): each the target's role lacks here is
    /// given, since the database is the one being made; one set otherwise is left as it is and said.
    /// </summary>
    private static async Task<List<string>> DatabaseSettingsAsync(NpgsqlConnection target, string name, RoleFacts role, RoleFacts there, RoleRights rights, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var has = there.DatabaseSettings.ToDictionary(KeyOf, StringComparer.OrdinalIgnoreCase);
        foreach (var setting in role.DatabaseSettings)
        {
            if (!has.TryGetValue(KeyOf(setting), out var other))
            {
                if (await SetAsync(target, name, target.Database, setting, rights, notes, cancellationToken))
                {
                    notes.Add($"setting {setting} given in database {target.Database}");
                }
            }
            else if (other != setting)
            {
                notes.Add($"setting in database {target.Database} not altered: {other} on the target, {setting} on the source");
            }
        }

        return notes;
    }

    /// <summary>ALTER ROLE <paramref name="role"/> [IN DATABASE <paramref name="database"/>] SET for one setting as the catalog has it (name=value).</summary>
    public static string SetStatement(string role, string? database, string setting)
    {
        var key = KeyOf(setting);
        var value = setting[(key.Length + 1)..];
        var inDatabase = database is null ? "" : $" IN DATABASE {Db.Ident(database)}";
        // A list setting's value is stored as written in SQL already ("$user", public): given as it is, not as one string.
        return $"ALTER ROLE {Db.Ident(role)}{inDatabase} SET {Db.Ident(key)} TO {(ListSettings.Contains(key) ? value : Db.Literal(value))}";
    }

    private static string KeyOf(string setting) => setting[..setting.IndexOf('=', StringComparison.Ordinal)];

    /// <summary>
    /// ALTER ROLE ... [IN DATABASE ...] SET one setting (name=value); false with a note when the target refuses it:
    /// an unknown setting, or a login role that may not (a superuser role; before PostgreSQL 16 CREATEROLE
    /// suffices, from 16 on it needs ADMIN OPTION on the role, which it has on those it created).
    /// </summary>
    private static async Task<bool> SetAsync(NpgsqlConnection target, string name, string? database, string setting, RoleRights rights, List<string> notes, CancellationToken cancellationToken)
    {
        var key = KeyOf(setting);
        var sql = SetStatement(name, database, setting);
        try
        {
            await Db.ExecuteAsync(target, sql, cancellationToken);
            return true;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InsufficientPrivilege)
        {
            var needs = rights.Major >= 16 ? $"ADMIN OPTION on {name}" : "CREATEROLE";
            notes.Add($"setting {key}{(database is null ? "" : " in database " + database)} left out: {e.MessageText} (it needs {needs}, or a superuser for a superuser role): run {sql} as a role that may");
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedObject or PostgresErrorCodes.InvalidParameterValue or PostgresErrorCodes.CantChangeRuntimeParam)
        {
            notes.Add($"setting {key}{(database is null ? "" : " in database " + database)} left out: {e.MessageText}");
        }

        return false;
    }

    /// <summary>The source's memberships among the roles it uses, then the login role's in every owner to be.</summary>
    private static async Task MembershipsAsync(NpgsqlConnection target, DatabaseAccess access, RoleMap map, Dictionary<string, RoleFacts> existing, RoleRights rights, List<RoleOutcome> outcomes, CancellationToken cancellationToken)
    {
        var used = access.Roles.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var role in access.Roles)
        {
            var member = map[role.Name];
            foreach (var group in role.MemberOf.Where(used.Contains).Select(g => (Source: g, Target: map[g])))
            {
                if (member == group.Target || (existing.TryGetValue(member, out var had) && had.MemberOf.Contains(group.Target)))
                {
                    continue;
                }

                await Db.ExecuteAsync(target, $"GRANT {Db.Ident(group.Target)} TO {Db.Ident(member)}{(role.AdminOf.Contains(group.Source) ? " WITH ADMIN OPTION" : "")}", cancellationToken);
            }
        }

        await JoinOwnersAsync(target, rights.OwnersToBe(access, map), rights, outcomes, cancellationToken);
    }

    /// <summary>
    /// Makes the login role a member of every role that is to own objects or default privileges, as ALTER ...
    /// OWNER TO and ALTER DEFAULT PRIVILEGES FOR ROLE require (PostgreSQL 16+: with SET, which a CREATEROLE
    /// role has not over the roles it created until granted); inheriting, so it can go on writing their tables.
    /// </summary>
    private static async Task JoinOwnersAsync(NpgsqlConnection target, IEnumerable<string> owners, RoleRights rights, List<RoleOutcome> outcomes, CancellationToken cancellationToken)
    {
        foreach (var owner in owners.Where(o => o != rights.LoginRole).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var privilege = rights.Major >= 16 ? "SET" : "MEMBER";
            if (rights.Superuser || await Db.ScalarAsync<bool>(target, $"SELECT pg_catalog.pg_has_role(current_user, {Db.Literal(owner)}, '{privilege}')", cancellationToken))
            {
                continue;
            }

            await Db.ExecuteAsync(target, $"GRANT {Db.Ident(owner)} TO CURRENT_USER", cancellationToken);
            outcomes.Add(new RoleOutcome(rights.LoginRole, $"member of {owner}", $"to give {owner} its objects back (ALTER ... OWNER TO needs it); revoke it later with REVOKE {Db.Ident(owner)} FROM {Db.Ident(rights.LoginRole)} if unwanted"));
        }
    }

    /// <summary>
    /// restore --roles, from an archive (no source to read): creates the roles the archive names
    /// (<paramref name="named"/>: owners, grantees, policy roles) that the target lacks, NOLOGIN, since the
    /// archive says nothing of their attributes, passwords or memberships (each outcome says how to finish it);
    /// a role the target has is reused as it is. Then the login role joins <paramref name="owners"/>, as
    /// pg_restore's ALTER ... OWNER TO needs. Refuses before any change when the login role may not create roles.
    /// </summary>
    public static async Task<List<RoleOutcome>> CreateNamedAsync(NpgsqlConnection target, IReadOnlyCollection<string> named, IReadOnlyCollection<string> owners, CancellationToken cancellationToken)
    {
        var rights = await RoleRights.ReadAsync(target, cancellationToken);
        if (rights.Missing is { } missing)
        {
            throw new PgRelocateException($"--roles needs a target login role that may create roles: {missing}. Ask the provider for CREATEROLE, or restore without --roles (every object is then owned by {rights.LoginRole}, no grant carried).", ExitCode.Differences);
        }

        var existing = (await DatabaseAccess.ReadRolesAsync(target, cancellationToken)).ToDictionary(r => r.Name, StringComparer.Ordinal);
        var outcomes = new List<RoleOutcome>();
        foreach (var name in named.Where(n => n != rights.LoginRole).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (existing.TryGetValue(name, out var there))
            {
                if (there.Superuser && !rights.Superuser && owners.Contains(name))
                {
                    outcomes.Add(new RoleOutcome(name, "reused, differs", $"a superuser on the target: {rights.LoginRole} may not give it objects, so what the archive gives it stays {rights.LoginRole}'s"));
                    continue;
                }

                outcomes.Add(new RoleOutcome(name, "reused", "the target has it; the archive names it only, its attributes are not compared"));
                continue;
            }

            await Db.ExecuteAsync(target, $"CREATE ROLE {Db.Ident(name)} NOLOGIN", cancellationToken);
            outcomes.Add(new RoleOutcome(name, "created", $"NOLOGIN: the archive names it, not its attributes, password or memberships; finish it with ALTER ROLE {Db.Ident(name)} LOGIN PASSWORD '...' (and GRANT GROUP_ROLE TO {Db.Ident(name)}) if it logs in"));
        }

        await JoinOwnersAsync(target, owners.Where(o => !(existing.TryGetValue(o, out var r) && r.Superuser && !rights.Superuser)), rights, outcomes, cancellationToken);
        return outcomes;
    }

    /// <summary>
    /// The CREATE ROLE statement, and the privileged attributes left out because they were not asked for (asked for,
    /// the caller has checked the login role may give them).
    /// </summary>
    private static (string Sql, List<string> LeftOut) Create(RoleFacts role, string name, bool privileged, string? verifier)
    {
        var parts = new List<string> { role.CanLogin ? "LOGIN" : "NOLOGIN", role.Inherit ? "INHERIT" : "NOINHERIT" };
        var leftOut = new List<string>();
        (privileged ? parts : leftOut).AddRange(role.Privileged);
        if (role.ConnectionLimit >= 0)
        {
            parts.Add("CONNECTION LIMIT " + role.ConnectionLimit.ToString(CultureInfo.InvariantCulture));
        }

        if (role.ValidUntil is { } until)
        {
            parts.Add("VALID UNTIL " + Db.Literal(until));
        }

        if (verifier is not null)
        {
            parts.Add("PASSWORD " + Db.Literal(verifier));
        }

        return ($"CREATE ROLE {Db.Ident(name)} {string.Join(" ", parts)}", leftOut);
    }

    /// <summary>How a role the target has differs from the source's: the attributes --roles would have given it.</summary>
    private static List<string> Differences(RoleFacts wanted, RoleFacts there)
    {
        var found = new List<string>();
        void Compare<T>(string what, T source, T target)
        {
            if (!EqualityComparer<T>.Default.Equals(source, target))
            {
                found.Add($"{what} {target} on the target, {source} on the source");
            }
        }

        Compare("login", wanted.CanLogin, there.CanLogin);
        Compare("inherit", wanted.Inherit, there.Inherit);
        Compare("connection limit", wanted.ConnectionLimit, there.ConnectionLimit);
        Compare("valid until", wanted.ValidUntil ?? "none", there.ValidUntil ?? "none");
        Compare("superuser", wanted.Superuser, there.Superuser);
        Compare("replication", wanted.Replication, there.Replication);
        Compare("bypassrls", wanted.BypassRls, there.BypassRls);
        Compare("settings", Listed(wanted.Settings), Listed(there.Settings));
        return found;

        static string Listed(IEnumerable<string> items) => "[" + string.Join(", ", items.Order(StringComparer.Ordinal)) + "]";
    }

    /// <summary>The source's SCRAM verifiers by role, where its login role may read pg_authid (a superuser); else none.</summary>
    private static async Task<Dictionary<string, string>> VerifiersAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        if (!await Db.ScalarAsync<bool>(source, "SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')", cancellationToken))
        {
            return new(StringComparer.Ordinal);
        }

        var rows = await Db.ListAsync(source, "SELECT rolname::text, rolpassword FROM pg_catalog.pg_authid WHERE rolpassword LIKE 'SCRAM-SHA-256$%'",
            r => (r.GetString(0), r.GetString(1)), cancellationToken);
        return rows.ToDictionary(r => r.Item1, r => r.Item2, StringComparer.Ordinal);
    }
}

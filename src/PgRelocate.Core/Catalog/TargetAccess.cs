using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>What --roles gave the target after the restore: how many owners, grants and default privileges.</summary>
public sealed record AccessApplied(int Owners, int Grants, int Defaults)
{
    public override string ToString() => $"{Owners} objects given their owners, {Grants} grants, {Defaults} default privileges";
}

/// <summary>
/// --roles, after the restore (which made the target's login role the owner of everything and carried no
/// privilege): gives every object the source's owner back (<c>ObjectOwners.sql</c>), then the source's privileges
/// and default privileges, the owners' own revokes included (<see cref="DatabaseAccess.Carried"/>, as
/// <see cref="GrantScript.Statements"/> writes them), each role named by the <see cref="RoleMap"/>,
/// in one transaction. The new owner of an object needs CREATE on its schema: given for the change and taken
/// back. Grants come after the owners, so each is recorded as the owner's, as on the source (the login role is
/// a member of every owner, see <see cref="TargetRoles"/>). A superuser's objects stay the login role's unless it
/// is a superuser too.
/// </summary>
internal static class TargetAccess
{
    /// <summary>
    /// The one sequence every command with --roles runs once the target holds the objects (migrate's owners step,
    /// copy, an online migration before it follows): a session on each side, then the owners and grants.
    /// </summary>
    public static async Task<AccessApplied> ApplyAsync(PgConnectionInfo source, PgConnectionInfo target, IReadOnlyDictionary<string, string> renames, CancellationToken cancellationToken)
    {
        await using var from = await Db.OpenAsync(source, "source", cancellationToken);
        await using var into = await Db.OpenAsync(target, "target", cancellationToken);
        return await ApplyAsync(from, into, renames, cancellationToken);
    }

    public static async Task<AccessApplied> ApplyAsync(NpgsqlConnection source, NpgsqlConnection target, IReadOnlyDictionary<string, string> renames, CancellationToken cancellationToken)
    {
        var access = await DatabaseAccess.ReadAsync(source, cancellationToken);
        var rights = await RoleRights.ReadAsync(target, cancellationToken);
        var (targetLogin, database) = (rights.LoginRole, target.Database);
        var map = RoleMap.For(renames, access.LoginRole, targetLogin);
        await Db.ExecuteAsync(source, "SELECT pg_catalog.set_config('search_path', '', false)", cancellationToken);
        var owners = (await DatabaseAccess.ReadObjectOwnersAsync(source, cancellationToken)).Select(o => (o.Object, o.Schema, Owner: map[o.Owner])).ToList();
        // A superuser's objects (a public schema made by initdb before PostgreSQL 15) stay the login role's, unless it is one too.
        var superusers = access.Roles.Where(r => r.Superuser && !rights.Superuser).Select(r => map[r.Name]).ToHashSet(StringComparer.Ordinal);
        owners.RemoveAll(o => o.Owner == targetLogin || superusers.Contains(o.Owner));
        // An owner's own revokes follow its objects: not those of a superuser's objects, which stay the login role's.
        var privileges = access.Carried.Where(p => p.Grantee != p.Owner || !superusers.Contains(map[p.Owner]));
        var (grants, defaults) = GrantScript.Statements(privileges, r => map[r], r => [r], targetLogin, database, keepLoginRole: true);
        await GiveAsync(target, owners, grants.Concat(defaults), cancellationToken);
        return new AccessApplied(owners.Count, grants.Count, defaults.Count);
    }

    /// <summary>
    /// restore --roles: the owners and privileges an archive records (<see cref="Archives.ArchiveRoles"/>) given to
    /// the objects a restore without owners or grants made the login role's, the same way. An owner that is the
    /// login role, or a superuser it is not, leaves the object the login role's.
    /// </summary>
    public static async Task<AccessApplied> ApplyArchivedAsync(NpgsqlConnection target, IReadOnlyList<(string Object, string? Schema, string Owner)> archived, IReadOnlyList<string> grants, CancellationToken cancellationToken)
    {
        var rights = await RoleRights.ReadAsync(target, cancellationToken);
        var superusers = (await DatabaseAccess.ReadRolesAsync(target, cancellationToken)).Where(r => r.Superuser && !rights.Superuser).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var owners = archived.Where(o => o.Owner != rights.LoginRole && o.Owner != "pg_database_owner" && !superusers.Contains(o.Owner)).ToList();
        await GiveAsync(target, owners, grants, cancellationToken);
        return new AccessApplied(owners.Count, grants.Count, 0);
    }

    /// <summary>
    /// In one transaction: each object given its owner (schemas last; the new owner of an object is given CREATE
    /// on its schema for the change and has it taken back), then the privileges, recorded as the owners'.
    /// </summary>
    private static async Task GiveAsync(NpgsqlConnection target, IReadOnlyList<(string Object, string? Schema, string Owner)> owners, IEnumerable<string> statements, CancellationToken cancellationToken)
    {
        await using var transaction = await target.BeginTransactionAsync(cancellationToken);
        await Db.ExecuteAsync(target, "SET LOCAL search_path = ''", cancellationToken);
        var schemaCreate = owners.Where(o => o.Schema is not null).Select(o => (Schema: o.Schema!, o.Owner)).Distinct().ToList();
        foreach (var (schema, owner) in schemaCreate)
        {
            await Db.ExecuteAsync(target, $"GRANT CREATE ON SCHEMA {schema} TO {Db.Ident(owner)}", cancellationToken);
        }

        foreach (var (obj, schema, owner) in owners.Where(o => !o.Object.StartsWith("SCHEMA ", StringComparison.Ordinal)))
        {
            await Db.ExecuteAsync(target, $"ALTER {obj} OWNER TO {Db.Ident(owner)}", cancellationToken);
        }

        foreach (var (schema, owner) in schemaCreate)
        {
            await Db.ExecuteAsync(target, $"REVOKE CREATE ON SCHEMA {schema} FROM {Db.Ident(owner)}", cancellationToken);
        }

        foreach (var (obj, _, owner) in owners.Where(o => o.Object.StartsWith("SCHEMA ", StringComparison.Ordinal)))
        {
            await Db.ExecuteAsync(target, $"ALTER {obj} OWNER TO {Db.Ident(owner)}", cancellationToken);
        }

        foreach (var statement in statements)
        {
            try
            {
                await Db.ExecuteAsync(target, statement, cancellationToken);
            }
            catch (PostgresException e)
            {
                throw new Errors.PgRelocateException($"Giving the privileges failed at {statement.Trim().ReplaceLineEndings(" ")}: {e.MessageText} ({e.SqlState}). Nothing of the owners and grants was kept (one transaction).", Errors.ExitCode.Failed, e);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }
}

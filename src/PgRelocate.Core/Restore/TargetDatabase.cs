using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Restore;

/// <summary>A user object found in a database: its kind ("table", "function", ...) and qualified name.</summary>
public sealed record UserObject(string Kind, string Name)
{
    public override string ToString() => $"{Kind} {Name}";
}

/// <summary>
/// What a restore needs to know about and do to its target: which user objects it holds, which extensions it
/// offers, and how to empty it. Emptying runs in one transaction and is rolled back unless the database
/// really ends up empty, so a refused or failed reset leaves the target exactly as it was.
/// </summary>
public static class TargetDatabase
{
    /// <summary>
    /// User objects: everything outside the system schemas that is not part of an extension, schemas other
    /// than public, and large objects. Extensions alone do not make a database "not empty".
    /// </summary>
    public static async Task<IReadOnlyList<UserObject>> UserObjectsAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var result = new List<UserObject>();
        await using var cmd = new NpgsqlCommand(UserObjectsSql, conn);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add(new UserObject(r.GetString(0), r.GetString(1)));
        }

        return result;
    }

    /// <summary>Extensions that can be installed on this server (pg_available_extensions).</summary>
    public static async Task<IReadOnlySet<string>> AvailableExtensionsAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand("SELECT name FROM pg_available_extensions", conn);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            names.Add(r.GetString(0));
        }

        return names;
    }

    /// <summary>
    /// Drops every user object the login role can drop: its extensions (but plpgsql), every non-system
    /// schema (public is recreated as PostgreSQL makes it), and large objects. All or nothing.
    /// </summary>
    /// <exception cref="PgRelocateException">Something remains that the login role may not drop; nothing was changed.</exception>
    public static async Task ResetAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        try
        {
            var statements = new List<string>();
            await using (var cmd = new NpgsqlCommand(ResetPlanSql, conn, tx))
            await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
            {
                while (await r.ReadAsync(cancellationToken))
                {
                    statements.Add(r.GetString(0));
                }
            }

            foreach (var sql in statements)
            {
                await using var cmd = new NpgsqlCommand(sql, conn, tx);
                await cmd.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var cmd = new NpgsqlCommand("SELECT lo_unlink(oid) FROM pg_largeobject_metadata", conn, tx))
            {
                await cmd.ExecuteNonQueryAsync(cancellationToken);
            }

            var remaining = new List<UserObject>();
            await using (var cmd = new NpgsqlCommand(UserObjectsSql, conn, tx))
            await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
            {
                while (await r.ReadAsync(cancellationToken))
                {
                    remaining.Add(new UserObject(r.GetString(0), r.GetString(1)));
                }
            }

            if (remaining.Count > 0)
            {
                throw new PgRelocateException(
                    $"Could not empty the target: {string.Join(", ", remaining.Take(5))}{(remaining.Count > 5 ? $" and {remaining.Count - 5} more" : "")} remain. Drop them as their owner, or restore into an empty database. Nothing was changed.");
            }

            await tx.CommitAsync(cancellationToken);
        }
        catch (PostgresException e)
        {
            await tx.RollbackAsync(CancellationToken.None);
            throw new PgRelocateException(
                $"Could not empty the target: {e.MessageText}. The login role may only drop what it owns: drop the rest as its owner, or restore into an empty database. Nothing was changed.", ExitCode.Failed, e);
        }
        catch
        {
            await tx.RollbackAsync(CancellationToken.None);
            throw;
        }
    }

    private const string UserObjectsSql = """
        WITH ext AS (SELECT objid, classid FROM pg_depend WHERE deptype = 'e'),
        ns AS (
            SELECT oid, nspname FROM pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema')
              AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%'
        )
        SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                              WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'relation' END,
               ns.nspname || '.' || c.relname
        FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
        UNION ALL
        SELECT 'function', ns.nspname || '.' || p.proname
        FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
        WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
        UNION ALL
        SELECT 'type', ns.nspname || '.' || t.typname
        FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd', 'r', 'm')
          AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = t.oid)
        UNION ALL
        SELECT 'schema', nspname FROM ns
        WHERE nspname <> 'public'
          AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_namespace'::regclass AND ext.objid = ns.oid)
        UNION ALL
        SELECT 'large object', oid::text FROM pg_largeobject_metadata
        ORDER BY 1, 2
        """;

    /// <summary>
    /// The statements that empty the database, in order. Only objects the login role may drop (it is, or is a
    /// member of, their owner) are listed; anything else is reported by the emptiness check afterwards.
    /// The public schema is owned by pg_database_owner since PostgreSQL 15 and is recreated the way initdb
    /// makes it; on older servers it belongs to the bootstrap superuser, so its contents are dropped instead.
    /// </summary>
    private const string ResetPlanSql = """
        WITH mine AS (SELECT oid FROM pg_roles WHERE pg_has_role(current_user, oid, 'USAGE'))
        SELECT format('DROP EXTENSION IF EXISTS %I CASCADE', e.extname)
        FROM pg_extension e
        WHERE e.extname <> 'plpgsql' AND e.extowner IN (SELECT oid FROM mine)
        UNION ALL
        SELECT * FROM (
            SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname)
            FROM pg_namespace n
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
              AND (n.nspname <> 'public' OR n.nspowner IN (SELECT oid FROM mine))
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
            ORDER BY n.nspname) s
        UNION ALL
        SELECT * FROM (VALUES
            ('CREATE SCHEMA IF NOT EXISTS public'),
            ('DO $$ BEGIN IF current_setting(''server_version_num'')::int >= 150000 THEN ALTER SCHEMA public OWNER TO pg_database_owner; END IF; END $$'),
            ('GRANT USAGE ON SCHEMA public TO PUBLIC'),
            ('COMMENT ON SCHEMA public IS ''standard public schema''')) v
        WHERE EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = 'public' AND n.nspowner IN (SELECT oid FROM mine))
        UNION ALL
        SELECT format('DROP %s IF EXISTS %I.%I CASCADE',
                      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                      n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND n.nspowner NOT IN (SELECT oid FROM mine)
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner IN (SELECT oid FROM mine)
          AND NOT c.relispartition
        UNION ALL
        SELECT format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND n.nspowner NOT IN (SELECT oid FROM mine) AND p.proowner IN (SELECT oid FROM mine)
        UNION ALL
        SELECT format('DROP TYPE IF EXISTS %I.%I CASCADE', n.nspname, t.typname)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND n.nspowner NOT IN (SELECT oid FROM mine) AND t.typowner IN (SELECT oid FROM mine)
          AND t.typtype IN ('e', 'd', 'r')
        """;
}

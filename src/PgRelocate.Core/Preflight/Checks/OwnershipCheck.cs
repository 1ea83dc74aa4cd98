using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Roles do not travel with a database dump: objects owned by other roles end up owned by the target's
/// login role, grants to other roles are dropped, and objects only a superuser may create fail on a
/// managed target. Three rows: owners, grants, superuser-only objects.
/// </summary>
public sealed class OwnershipCheck : IPreflightCheck
{
    public string Name => "roles and ownership";

    // Owners of user objects; pg_database_owner stands for whoever owns the database and travels fine.
    private static readonly string OwnersSql = CatalogSql.Expand("""
        SELECT r.rolname, count(*)
        FROM (
            SELECT c.relowner AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid IN ({{user_relations}})
            UNION ALL
            SELECT n.nspowner FROM pg_namespace n WHERE n.oid IN ({{user_schemas}})
            UNION ALL
            SELECT p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE p.oid IN ({{user_functions}})
        ) o JOIN pg_roles r ON r.oid = o.owner
        WHERE r.rolname NOT IN (current_user, 'pg_database_owner')
        GROUP BY 1 ORDER BY 2 DESC, 1
        """);

    // Grants to anyone but the owner, on relations and schemas. The public schema's default USAGE for
    // PUBLIC exists on every server and is left out.
    private static readonly string GrantsSql = CatalogSql.Expand("""
        SELECT coalesce(r.rolname, 'PUBLIC'), count(DISTINCT g.object)
        FROM (
            SELECT (aclexplode(c.relacl)).grantee, c.relowner AS owner, c.oid AS object
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relacl IS NOT NULL AND c.oid IN ({{user_relations}})
            UNION ALL
            SELECT (aclexplode(n.nspacl)).grantee, n.nspowner, n.oid
            FROM pg_namespace n
            WHERE n.nspacl IS NOT NULL AND n.nspname <> 'public' AND n.oid IN ({{user_schemas}})
        ) g LEFT JOIN pg_roles r ON r.oid = g.grantee
        WHERE g.grantee <> g.owner
        GROUP BY 1 ORDER BY 1
        """);

    // Functions in C or internal: only a superuser may create them, outside of an extension. Every
    // aggregate's pg_proc row says internal too, but CREATE AGGREGATE needs no superuser: not those.
    private static readonly string SuperuserOnlySql = CatalogSql.Expand("""
        SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') language ' || l.lanname
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang
        WHERE (l.lanname IN ('c', 'internal') OR (l.lanispl AND NOT l.lanpltrusted))
          AND NOT EXISTS (SELECT 1 FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
          AND p.oid IN ({{user_functions}})
        ORDER BY 1
        """);

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var targetRole = context.TargetServer?.User ?? "the target's login role";
        var owners = await Db.ListAsync(context.Source, OwnersSql, r => $"{r.GetString(0)} ({r.GetInt64(1)} objects)", cancellationToken);
        var grants = await Db.ListAsync(context.Source, GrantsSql, r => $"{r.GetString(0)} (on {r.GetInt64(1)} objects)", cancellationToken);
        var superuserOnly = await Db.ListAsync(context.Source, SuperuserOnlySql, r => r.GetString(0), cancellationToken);

        var rows = new List<CheckResult>
        {
            Findings.WarnIfAny("owners", owners, $"Every object is owned by {context.SourceServer.User}.", "other roles own objects",
                $"Nothing to fix: the restore makes {targetRole} their owner; recreate those roles on the target if applications log in as them."),
            Findings.WarnIfAny("grants", grants, "No grants to other roles.", "roles hold grants that will not be carried",
                "Script the GRANTs (pg_dump --schema-only | grep GRANT) and run them on the target once its roles exist."),
        };
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

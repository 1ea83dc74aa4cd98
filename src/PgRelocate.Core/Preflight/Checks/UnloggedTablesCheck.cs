using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>Unlogged tables are dumped, but a crash of the target empties them; the user should know.</summary>
public sealed class UnloggedTablesCheck : IPreflightCheck
{
    public string Name => "unlogged tables";

    // The user's unlogged tables: an extension's are made again by CREATE EXTENSION, not dumped.
    private static readonly string Sql = CatalogSql.Expand("""
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p') AND c.oid IN ({{user_relations}})
        ORDER BY 1
        """);

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var tables = await Db.ListAsync(context.Source, Sql, r => r.GetString(0), cancellationToken);
        return [Findings.WarnIfAny(Name, tables, "None.", "unlogged tables",
            "They are copied, but stay unlogged on the target (emptied after a crash, not replicated): ALTER TABLE ... SET LOGGED if that matters.")];
    }
}

using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>Unlogged tables are dumped, but a crash of the target empties them; the user should know.</summary>
internal sealed class UnloggedTablesCheck : IPreflightCheck
{
    public string Name => "unlogged tables";

    // The user's unlogged tables: an extension's are made again by CREATE EXTENSION, not dumped.
    private static readonly string Sql = CatalogSql.Load("Preflight/Checks/UnloggedTables.sql");

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var tables = await Db.ListAsync(context.Source, Sql, r => r.GetString(0), cancellationToken);
        return [Findings.WarnIfAny(Name, tables, "None.", "unlogged tables",
            "They are copied, but stay unlogged on the target (emptied after a crash, not replicated): ALTER TABLE ... SET LOGGED if that matters.")];
    }
}

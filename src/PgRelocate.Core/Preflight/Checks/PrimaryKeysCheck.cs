using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Tables without a primary key copy fine, but rows cannot be matched one to one afterwards: verification
/// of their contents is weaker (counts and an order-independent hash only), and duplicates go unnoticed.
/// </summary>
internal sealed class PrimaryKeysCheck : IPreflightCheck
{
    public string Name => "tables without primary key";

    private static readonly string Sql = CatalogSql.Load("Preflight/Checks/TablesWithoutPrimaryKey.sql");

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var tables = await Db.ListAsync(context.Source, Sql, r => r.GetString(0), cancellationToken);
        return [Findings.WarnIfAny(Name, tables, "Every table has a primary key.", "tables without a primary key",
            "They migrate, but verification can only compare their row counts and a hash of all rows: add a primary key if a row-level check matters.")];
    }
}

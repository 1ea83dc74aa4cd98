using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Tablespaces are folders of the source server; the target has its own. The restore puts everything into
/// the target's default tablespace (pg_restore --no-tablespaces).
/// </summary>
internal sealed class TablespacesCheck : IPreflightCheck
{
    public string Name => "tablespaces";

    // The user's relations (an extension's are made again by CREATE EXTENSION, in the target's tablespace).
    private static readonly string Sql = CatalogSql.Load("Preflight/Checks/Tablespaces.sql");

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var spaces = await Db.ListAsync(context.Source, Sql, r => r.GetString(0), cancellationToken);
        return [Findings.WarnIfAny(Name, spaces, "Only the default tablespace.", "tablespaces besides the default",
            "Nothing to do unless you need them: everything lands in the target's default tablespace.")];
    }
}

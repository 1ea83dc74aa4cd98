using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Procedural languages other than plpgsql: managed targets offer few of them, and the untrusted ones
/// (plperlu, plpython3u) need a superuser to install and to create functions in.
/// </summary>
internal sealed class LanguagesCheck : IPreflightCheck
{
    public string Name => "procedural languages";

    private static readonly string Sql = CatalogSql.Load("Preflight/Checks/Languages.sql");

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var languages = await Db.ListAsync(context.Source, Sql, r => r.GetString(0), cancellationToken);
        return [Findings.WarnIfAny(Name, languages, "Only plpgsql.", "procedural languages besides plpgsql",
            "Check the target offers these languages (most are extensions: see the extensions row), or rewrite their functions in plpgsql.")];
    }
}

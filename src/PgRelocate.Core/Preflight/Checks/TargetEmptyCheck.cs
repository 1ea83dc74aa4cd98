namespace PgRelocate.Preflight.Checks;

/// <summary>
/// A restore into a database that already holds tables either fails on every existing name or mixes old
/// and new rows. Objects that extensions created do not count: the target's provider may preinstall some.
/// </summary>
public sealed class TargetEmptyCheck : IPreflightCheck
{
    public string Name => "target empty";

    private const string Sql = $"""
        SELECT kind || ' ' || name FROM (
            SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END AS kind,
                   {Catalog.QualifiedName} AS name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {Catalog.UserSchema} AND {Catalog.NotExtensionRelation}
            UNION ALL
            SELECT 'function', n.nspname || '.' || p.proname
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE {Catalog.UserSchema} AND {Catalog.NotExtensionFunction}
            UNION ALL
            SELECT 'schema', n.nspname FROM pg_namespace n
            WHERE n.nspname <> 'public' AND {Catalog.UserSchema} AND {Catalog.NotExtensionSchema}
        ) o ORDER BY 1
        """;

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        if (!context.HasTarget)
        {
            return [];
        }

        var objects = await Query.ListAsync(context.Target!, Sql, r => r.GetString(0), cancellationToken);
        return [objects.Count == 0
            ? CheckResult.Ok(Name, $"The target database {context.TargetServer!.Database} is empty.")
            : CheckResult.Block(Name, $"The target database {context.TargetServer!.Database} holds {objects.Count} objects: {Query.Names(objects)}.",
                "Restore into an empty database: create a new one, or drop these objects after making sure nothing there is needed.") with { Details = objects }];
    }
}

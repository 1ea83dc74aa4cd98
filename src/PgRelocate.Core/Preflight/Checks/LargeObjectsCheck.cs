using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Large objects live outside the tables: pg_dump includes them (-b), but they restore one by one and
/// verification by table contents does not see them.
/// </summary>
internal sealed class LargeObjectsCheck : IPreflightCheck
{
    public string Name => "large objects";

    // pg_largeobject itself is readable by superusers only; its size is not.
    private const string Sql = "SELECT count(*), pg_total_relation_size('pg_catalog.pg_largeobject') FROM pg_largeobject_metadata";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var (count, bytes) = await Db.SingleAsync(context.Source, Sql, r => (r.GetInt64(0), r.GetInt64(1)), cancellationToken);
        return [count == 0
            ? CheckResult.Ok(Name, "None.")
            : CheckResult.Warn(Name, $"{count} large objects, {Units.Bytes(bytes)} in pg_largeobject.",
                "They are dumped and restored with the database; expect a slower restore, and compare their count on the target afterwards.")];
    }
}

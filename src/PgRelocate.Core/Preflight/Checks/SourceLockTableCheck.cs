using System.Globalization;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// pg_dump, and the direct copy's snapshot, lock every table they read in one transaction of the source: a
/// source with more tables than its lock table holds (<see cref="LockTable"/>) fails with "out of shared
/// memory", and one that fills most of it leaves the applications little. The target's side is the
/// "lock table" row of <see cref="TargetEmptyCheck"/>.
/// </summary>
internal sealed class SourceLockTableCheck : IPreflightCheck
{
    public string Name => "source lock table";

    private static readonly string TablesSql = CatalogSql.Expand("SELECT count(*) FROM pg_catalog.pg_class c WHERE c.oid IN ({{user_tables}})");

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var table = await LockTable.ReadAsync(context.Source, cancellationToken);
        var tables = await Db.ScalarAsync<long>(context.Source, TablesSql, cancellationToken);
        var found = string.Create(CultureInfo.InvariantCulture, $"pg_dump and the direct copy lock the source's {tables:N0} tables in one transaction; its lock table holds {table}");
        return [tables > table.Capacity
            ? CheckResult.Warn(Name, found + ": more than it is sized for, so they may fail (out of shared memory).",
                $"Raise max_locks_per_transaction on the source to {(tables * 2 / Math.Max(table.MaxConnections + table.PreparedTransactions, 1)) + 1} or more, then run again.")
            : tables > table.Capacity / 2
                ? CheckResult.Warn(Name, found + ": more than half of it, shared with every other session.",
                    "Keep other work that takes many locks off the source while it is dumped or copied, or raise max_locks_per_transaction.")
                : CheckResult.Ok(Name, found + ".")];
    }
}

using System.Globalization;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Long-running transactions make pg_dump wait for their locks and hold back vacuum; prepared
/// transactions survive restarts and disconnects and keep their locks until someone finishes them.
/// Two rows.
/// </summary>
internal sealed class TransactionsCheck(TimeSpan? longerThan = null) : IPreflightCheck
{
    private readonly TimeSpan _longerThan = longerThan ?? TimeSpan.FromMinutes(5);

    public string Name => "transactions";

    // Other users' xact_start is hidden without pg_read_all_stats: those show as null and are not counted.
    private static readonly string LongSql = CatalogSql.Load("Preflight/Checks/LongTransactions.sql");

    private static readonly string PreparedSql = CatalogSql.Load("Preflight/Checks/PreparedTransactions.sql");

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        await using var cmd = new Npgsql.NpgsqlCommand(LongSql, context.Source);
        cmd.Parameters.AddWithValue("seconds", _longerThan.TotalSeconds);
        var open = new List<string>();
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                open.Add(string.Create(CultureInfo.InvariantCulture,
                    $"pid {reader.GetInt32(0)} {reader.GetString(1)} ({reader.GetString(2)}), {reader.GetString(4)}, open for {Units.Duration(TimeSpan.FromSeconds(reader.GetDouble(3)))}"));
            }
        }

        var prepared = await Db.ListAsync(context.Source, PreparedSql,
            r => $"'{r.GetString(0)}' by {r.GetString(1)}, prepared {Units.Duration(TimeSpan.FromSeconds(r.GetDouble(2)))} ago", cancellationToken);
        return
        [
            Findings.WarnIfAny("long transactions", open, $"No transaction open longer than {Units.Duration(_longerThan)}.",
                $"transactions open longer than {Units.Duration(_longerThan)}",
                "Finish or cancel them (pg_cancel_backend) before the dump: they hold locks the dump waits for."),
            Findings.WarnIfAny("prepared transactions", prepared, "None.", "prepared transactions",
                "Finish them with COMMIT PREPARED or ROLLBACK PREPARED before the dump: they keep their locks until then and are not migrated."),
        ];
    }
}

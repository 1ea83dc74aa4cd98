using System.Globalization;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// How big the database is, its ten largest tables, and what the dump will weigh. Dump and restore suits
/// databases under about 100 GB; above that the downtime is measured in many hours.
/// </summary>
internal sealed class SizeCheck(long thresholdBytes = SizeCheck.DefaultThresholdBytes) : IPreflightCheck
{
    public const long DefaultThresholdBytes = 100_000_000_000;

    public string Name => "size";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var database = await DatabaseFacts.SizeAsync(context.Source, cancellationToken);
        var sizes = await SourceSizes.ReadAsync(context, cancellationToken);
        var tables = sizes.Sum(s => s.TableBytes);
        var largest = sizes.Select(s => (Name: s.Schema + "." + s.Name, Bytes: s.TotalBytes, Rows: s.EstimatedRows))
            .OrderByDescending(t => t.Bytes).ThenBy(t => t.Name, StringComparer.Ordinal).Take(10);
        var details = largest.Select(t => $"{t.Name}: {Units.Bytes(t.Bytes)}, {Rows(t.Rows)}").ToList();
        var found = $"database {Units.Bytes(database)}; table data without indexes {Units.Bytes(tables)}; " +
                    $"dump estimated at {Units.Bytes(DatabaseFacts.DumpBytes(tables))} compressed (at most {Units.Bytes(tables)}).";
        var result = database > thresholdBytes
            ? CheckResult.Warn(Name, found,
                $"Above {Units.Bytes(thresholdBytes)} dump and restore means many hours of downtime: consider a replication-based migration (logical replication) instead.")
            : CheckResult.Ok(Name, found);
        return [result with { Details = details }];
    }

    // reltuples is -1 (PostgreSQL 14+) or 0 for a table never vacuumed or analyzed.
    private static string Rows(long estimate) =>
        estimate > 0 ? string.Create(CultureInfo.InvariantCulture, $"~{estimate:N0} rows") : "rows not estimated yet (never analyzed)";
}

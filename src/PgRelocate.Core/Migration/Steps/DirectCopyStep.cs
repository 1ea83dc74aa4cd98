using System.Globalization;
using PgRelocate.Copy;
using PgRelocate.Progress;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// With --direct: the source copied straight into the target over parallel COPY streams on one snapshot,
/// instead of dump, stage and restore. A rerun replaces what an interrupted copy left (the migration's
/// --confirm allows it).
/// </summary>
public sealed class DirectCopyStep : IMigrationStep
{
    public const string StepName = "copy";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Direct ? null : "dump and restore instead (no --direct)";

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var result = await new CopyRunner(context.Binaries, context.Reporter).RunAsync(CopyOptionsFor(context), cancellationToken);
        context.Record.Outputs["rows"] = result.Rows.ToString(CultureInfo.InvariantCulture);
        context.Record.Outputs["bytes"] = result.Bytes.ToString(CultureInfo.InvariantCulture);
        context.Record.Outputs["log"] = result.LogPath;
        context.Record.Tables.Add(new ReportTable(
            "Copy steps",
            ["step", "object", "start", "duration", "rows"],
            result.Steps.Select(s => (IReadOnlyList<string>)
            [
                s.Step, s.Object, Units.Duration(s.Start), Units.Duration(s.Duration), s.Rows?.ToString(CultureInfo.InvariantCulture) ?? "",
            ]).ToList()));
        context.Record.Summary = $"{result.Tables} tables, {result.Rows} rows, {Units.Bytes(result.Bytes)}, {result.Sequences} sequences, {result.LargeObjects} large objects in {Units.Duration(result.Duration)}";
    }

    /// <summary>The copy a migration runs: its connections, --confirm, lock and jobs, its log in the migration's folder.</summary>
    internal static CopyOptions CopyOptionsFor(MigrationContext context, string? snapshot = null)
    {
        var options = context.Options;
        return new CopyOptions
        {
            Source = options.Source,
            Into = options.Into,
            IndexJobs = options.Into.Jobs,
            Snapshot = snapshot,
            LogPath = Path.Combine(context.Folder, "copy.log"),
        };
    }
}

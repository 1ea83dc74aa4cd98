using PgRelocate.Dump;
using PgRelocate.Progress;
using PgRelocate.Staging;

namespace PgRelocate.Migration.Steps;

/// <summary>Dumps the source into --via or the migration's folder. A rerun starts the dump over: pg_dump cannot resume.</summary>
public sealed class DumpStep : IMigrationStep
{
    public const string StepName = "dump";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Direct ? "copied directly instead (--direct)" : null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        // With --via straight into the store (no local copy), else into a file in the migration's folder.
        // A rerun replaces what an interrupted one left.
        var location = StagingLocation.Parse(options.Via ?? Path.Combine(context.Folder, "archive.dump"));
        var manifest = await StagedArchives.DumpAsync(
            new DumpRunner(context.Binaries, context.Reporter), options.Source, location, StagingStores.Open(location, options.Staging, context.Reporter),
            force: true, options.CreateBucket, allowPublic: false, context.Reporter, cancellationToken);
        context.Record.Outputs["archive"] = location.ToString();
        context.Record.Outputs["bytes"] = manifest.ArchiveBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Record.Outputs["sha256"] = manifest.Sha256;
        context.Record.Outputs["databaseBytes"] = manifest.DatabaseSizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Record.Outputs["sourceVersion"] = manifest.SourceServerVersion;
        context.Record.Summary = $"{Units.Bytes(manifest.ArchiveBytes)} from a {Units.Bytes(manifest.DatabaseSizeBytes)} database, sha256 {manifest.Sha256[..12]}…";
    }
}

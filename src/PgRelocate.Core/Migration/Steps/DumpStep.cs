using PgRelocate.Archives;
using PgRelocate.Dump;
using PgRelocate.Progress;
using PgRelocate.Staging;

namespace PgRelocate.Migration.Steps;

/// <summary>Dumps the source into the migration's folder. A rerun starts the dump over: pg_dump cannot resume.</summary>
public sealed class DumpStep : IMigrationStep
{
    public const string StepName = "dump";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Direct ? "copied directly instead (--direct)" : null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var runner = new DumpRunner(context.Binaries, context.Reporter);
        DumpManifest manifest;
        string archive;
        if (options.Via is null)
        {
            archive = Path.Combine(context.Folder, "archive.dump");
            var location = StagingLocation.Parse(archive);
            manifest = await StagedArchives.DumpAsync(
                runner, options.Source, location, StagingStores.Open(location, options.Staging, context.Reporter), force: true, createBucket: false, allowPublic: false, context.Reporter, cancellationToken);
        }
        else
        {
            // Straight into the store, no local copy. A rerun replaces what an interrupted one left.
            var location = StagedArchive.Location(options);
            archive = location.ToString();
            manifest = await StagedArchives.DumpAsync(
                runner, options.Source, location, StagedArchive.Store(options, context.Reporter), force: true, options.CreateBucket, allowPublic: false, context.Reporter, cancellationToken);
        }

        context.Record.Outputs["archive"] = archive;
        context.Record.Outputs["bytes"] = manifest.ArchiveBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Record.Outputs["sha256"] = manifest.Sha256;
        context.Record.Outputs["databaseBytes"] = manifest.DatabaseSizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Record.Outputs["sourceVersion"] = manifest.SourceServerVersion;
        context.Record.Summary = $"{Units.Bytes(manifest.ArchiveBytes)} from a {Units.Bytes(manifest.DatabaseSizeBytes)} database, sha256 {manifest.Sha256[..12]}…";
    }
}

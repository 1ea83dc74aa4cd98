using PgRelocate.Archives;
using PgRelocate.Dump;
using PgRelocate.Progress;

namespace PgRelocate.Migration.Steps;

/// <summary>Dumps the source into the migration's folder. A rerun starts the dump over: pg_dump cannot resume.</summary>
public sealed class DumpStep : IMigrationStep
{
    public const string StepName = "dump";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var path = Path.Combine(context.Folder, "archive.dump");
        var manifest = await LocalArchiveFile.DumpAsync(new DumpRunner(context.Binaries, context.Reporter), context.Options.Source, path, cancellationToken);
        context.Record.Outputs["archive"] = path;
        context.Record.Outputs["bytes"] = manifest.ArchiveBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Record.Outputs["sha256"] = manifest.Sha256;
        context.Record.Outputs["databaseBytes"] = manifest.DatabaseSizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Record.Outputs["sourceVersion"] = manifest.SourceServerVersion;
        context.Record.Summary = $"{Units.Bytes(manifest.ArchiveBytes)} from a {Units.Bytes(manifest.DatabaseSizeBytes)} database, sha256 {manifest.Sha256[..12]}…";
    }
}

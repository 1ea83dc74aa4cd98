using PgRelocate.Archives;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// Restores the archive into the target. A rerun after an interruption finds the target partly restored and
/// replaces it, which the migration's --confirm allows.
/// </summary>
public sealed class RestoreStep : IMigrationStep
{
    public const string StepName = "restore";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var archive = context.Journal.Output(DumpStep.StepName, "archive")
            ?? throw new PgRelocateException("The dump step recorded no archive: run the migration again.");
        var manifestPath = DumpManifest.PathFor(archive);
        var manifest = File.Exists(manifestPath) ? DumpManifest.FromJson(await File.ReadAllTextAsync(manifestPath, cancellationToken), manifestPath) : null;
        var logPath = Path.Combine(context.Folder, "restore.log");
        var result = await new RestoreRunner(context.Binaries, context.Reporter).RunAsync(
            new RestoreOptions
            {
                Target = context.Options.Target,
                Input = new LocalArchive(archive),
                Manifest = manifest,
                Confirm = context.Options.Confirm,
                Jobs = context.Options.Jobs,
                LogPath = logPath,
            },
            cancellationToken);

        context.Record.Outputs["status"] = result.StatusText;
        context.Record.Outputs["log"] = logPath;
        var issues = result.Warnings.Concat(result.Errors).ToList();
        if (issues.Count > 0)
        {
            context.Record.Tables.Add(new ReportTable(
                "pg_restore messages",
                ["entry", "message", "verdict"],
                issues.Select(i => (IReadOnlyList<string>)[i.Entry, i.Message, i.IsHarmless ? "harmless: " + i.HarmlessBecause : "error"]).ToList()));
        }

        context.Record.Summary = $"{result.StatusText} in {Units.Duration(result.Duration)}";
        if (result.Status == RestoreStatus.Failed)
        {
            var first = result.Errors.FirstOrDefault()?.ToString() ?? result.LastLines.LastOrDefault() ?? "pg_restore failed";
            throw new PgRelocateException($"The restore failed: {first}. The whole pg_restore log is in {logPath}.");
        }
    }
}

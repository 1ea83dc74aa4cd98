using PgRelocate.Archives;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Staging;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// Restores the archive into the target. A rerun after an interruption finds the target partly restored and
/// replaces it, which the migration's --confirm allows.
/// </summary>
internal sealed class RestoreStep : IMigrationStep
{
    public const string StepName = "restore";

    /// <summary>How pg_restore ended, in words.</summary>
    public static readonly JournalKey<string> Status = JournalKey.Text("status");

    /// <summary>The restore's log, in the migration's folder.</summary>
    public static readonly JournalKey<string> Log = JournalKey.Text("log");

    public string Name => StepName;

    public EstimatedPart? Estimated => EstimatedPart.DumpRestore;

    public string? SkipReason(MigrationOptions options) => options.Direct ? "copied directly instead (--direct)" : null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        if (context.TakeHandOff<FollowingRestoreRun>() is { } running)
        {
            // Started by the dump step, on the archive's local copy: only its end is left to wait for.
            await using (running)
            {
                Record(context, await running.Task, "alongside the dump");
            }

            return;
        }

        var options = context.Options;
        var archive = context.Journal.Output(DumpStep.StepName, DumpStep.Archive)
            ?? throw new PgRelocateException("The dump step recorded no archive: run the migration again.");
        DumpManifest? manifest;
        string location;
        if (options.Via is null)
        {
            var manifestPath = DumpManifest.PathFor(archive);
            manifest = File.Exists(manifestPath) ? DumpManifest.FromJson(await File.ReadAllTextAsync(manifestPath, cancellationToken), manifestPath) : null;
            location = archive;
        }
        else
        {
            // Read through a fresh signed URL, as a restore service would: the URL itself is proven to work.
            manifest = await StagedArchives.FindManifestAsync(StagedArchive.Location(options), null, options.Staging, context.Reporter, cancellationToken);
            location = StagedArchive.SignedUrl(options, context.Reporter).ToString();
        }

        var result = await new ArchiveSources(context.Binaries, context.Reporter).RestoreAsync(
            new LocationRestoreOptions
            {
                Into = options.Into,
                Location = location,
                Manifest = manifest,
                Staging = options.Staging,
                LogPath = LogPath(context),
            },
            cancellationToken);
        Record(context, result, null);
    }

    /// <summary>Restores the archive the dump is still writing into the migration's target, on the migration's jobs.</summary>
    internal static Task<RestoreResult> RestoreArrivingAsync(MigrationContext context, GrowingArchive archive, IReadOnlyDictionary<string, long>? tableBytes, CancellationToken cancellationToken) =>
        new ArchiveSources(context.Binaries, context.Reporter).RestoreArrivingAsync(context.Options.Into, archive, tableBytes, LogPath(context), cancellationToken);

    /// <summary>The restore's log, in the migration's folder.</summary>
    private static string LogPath(MigrationContext context) => Path.Combine(context.Folder, "restore.log");

    private static void Record(MigrationContext context, RestoreResult result, string? how)
    {
        var logPath = result.LogPath;
        context.Record.Set(Status, result.StatusText);
        context.Record.Set(Log, logPath);
        var issues = result.Warnings.Concat(result.Errors).ToList();
        if (issues.Count > 0)
        {
            context.Record.Tables.Add(new ReportTable(
                "pg_restore messages",
                ["entry", "message", "verdict"],
                issues.Select(i => (IReadOnlyList<string>)[i.Entry, i.Message, i.IsHarmless ? "harmless: " + i.HarmlessBecause : "error"]).ToList()));
        }

        context.Record.Summary = $"{result.StatusText} in {Units.Duration(result.Duration)}{(how is null ? "" : ", " + how)}";
        if (result.Status == RestoreStatus.Failed)
        {
            var first = result.Errors.FirstOrDefault()?.ToString() ?? result.LastLines.LastOrDefault() ?? "pg_restore failed";
            throw new PgRelocateException($"The restore failed: {first}. The whole pg_restore log is in {logPath}.");
        }
    }
}

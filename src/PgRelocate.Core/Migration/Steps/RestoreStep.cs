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
public sealed class RestoreStep : IMigrationStep
{
    public const string StepName = "restore";

    public string Name => StepName;

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
        var archive = context.Journal.Output(DumpStep.StepName, "archive")
            ?? throw new PgRelocateException("The dump step recorded no archive: run the migration again.");
        if (options.Via is null)
        {
            var manifestPath = DumpManifest.PathFor(archive);
            var manifest = File.Exists(manifestPath) ? DumpManifest.FromJson(await File.ReadAllTextAsync(manifestPath, cancellationToken), manifestPath) : null;
            Record(context, await RestoreAsync(context, new LocalArchive(archive), manifest, null, cancellationToken), null);
        }
        else
        {
            // Read through a fresh signed URL, as a restore service would: the URL itself is proven to work.
            var manifest = await StagedArchives.FindManifestAsync(StagedArchive.Location(options), null, options.Staging, context.Reporter, cancellationToken);
            var result = await new ArchiveSources(context.Binaries, context.Reporter).RestoreAsync(
                new LocationRestoreOptions
                {
                    Target = options.Target,
                    Location = StagedArchive.SignedUrl(options, context.Reporter).ToString(),
                    Manifest = manifest,
                    Staging = options.Staging,
                    Confirm = options.Confirm,
                    LockTimeout = options.LockTimeout,
                    OwnSessions = options.OwnSessions,
                    Jobs = options.Jobs,
                    LogPath = Path.Combine(context.Folder, "restore.log"),
                },
                cancellationToken);
            Record(context, result, null);
        }
    }

    /// <summary>Restores <paramref name="input"/> into the migration's target, its log in the migration's folder.</summary>
    internal static Task<RestoreResult> RestoreAsync(MigrationContext context, ArchiveInput input, DumpManifest? manifest, IReadOnlyDictionary<string, long>? tableBytes, CancellationToken cancellationToken) =>
        new RestoreRunner(context.Binaries, context.Reporter).RunAsync(
            new RestoreOptions
            {
                Target = context.Options.Target,
                Input = input,
                Manifest = manifest,
                Confirm = context.Options.Confirm,
                LockTimeout = context.Options.LockTimeout,
                OwnSessions = context.Options.OwnSessions,
                Jobs = context.Options.Jobs,
                LogPath = Path.Combine(context.Folder, "restore.log"),
                TableBytes = tableBytes,
            },
            cancellationToken);

    private static void Record(MigrationContext context, RestoreResult result, string? how)
    {
        var logPath = result.LogPath;
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

        context.Record.Summary = $"{result.StatusText} in {Units.Duration(result.Duration)}{(how is null ? "" : ", " + how)}";
        if (result.Status == RestoreStatus.Failed)
        {
            var first = result.Errors.FirstOrDefault()?.ToString() ?? result.LastLines.LastOrDefault() ?? "pg_restore failed";
            throw new PgRelocateException($"The restore failed: {first}. The whole pg_restore log is in {logPath}.");
        }
    }
}

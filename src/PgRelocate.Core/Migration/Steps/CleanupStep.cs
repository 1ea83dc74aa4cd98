namespace PgRelocate.Migration.Steps;

/// <summary>Deletes the archive and its manifest unless --keep-archive. Safe to repeat.</summary>
internal sealed class CleanupStep : IMigrationStep
{
    public const string StepName = "cleanup";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) =>
        options.Direct ? "no archive (--direct)" : options.KeepArchive ? "archive kept (--keep-archive)" : null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        if (options.Via is not null)
        {
            var location = StagedArchive.Location(options);
            var store = StagedArchive.Store(options, context.Reporter);
            await store.DeleteAsync(location.Key, cancellationToken);
            await store.DeleteAsync(location.Manifest!.Key, cancellationToken);
            context.Record.Summary = $"staged archive and manifest deleted from {location}";
            return;
        }

        var archive = context.Journal.Output(DumpStep.StepName, DumpStep.Archive);
        if (archive is not null)
        {
            File.Delete(archive);
            File.Delete(Archives.DumpManifest.PathFor(archive));
        }

        context.Record.Summary = "archive deleted";
    }
}

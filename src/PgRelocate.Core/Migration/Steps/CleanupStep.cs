namespace PgRelocate.Migration.Steps;

/// <summary>Deletes the archive and its manifest unless --keep-archive. Safe to repeat.</summary>
public sealed class CleanupStep : IMigrationStep
{
    public const string StepName = "cleanup";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.KeepArchive ? "archive kept (--keep-archive)" : null;

    public Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var archive = context.Journal.Output(DumpStep.StepName, "archive");
        if (archive is not null)
        {
            File.Delete(archive);
            File.Delete(Archives.DumpManifest.PathFor(archive));
        }

        context.Record.Summary = "archive deleted";
        return Task.CompletedTask;
    }
}

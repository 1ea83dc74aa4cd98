using PgRelocate.Staging;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// Makes the short-lived signed URL the restore reads, and proves it works: the first bytes it returns must be
/// a pg_dump archive, not an error page. Only the URL's redacted form is recorded.
/// </summary>
internal sealed class StageStep : IMigrationStep
{
    public const string StepName = "stage";

    /// <summary>Where the archive was staged, its signature left out.</summary>
    public static readonly JournalKey<string> Url = JournalKey.Text("url");

    public string Name => StepName;

    public EstimatedPart? Estimated => EstimatedPart.Stage;

    public string? SkipReason(MigrationOptions options) =>
        options.Direct ? "copied directly instead (--direct)" : options.Via is null ? "the archive stays in the migration's folder (no --via)" : null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var url = StagedArchive.SignedUrl(context.Options, context.Reporter);
        var location = StagingLocation.Parse(url.ToString());
        var store = StagingStores.Open(location, context.Options.Staging, context.Reporter);
        await using (var probe = await ArchiveProbe.CheckAsync(await store.OpenReadAsync(location.Key, 0, cancellationToken), location.ToString(), cancellationToken))
        {
        }

        context.Record.Set(Url, SignedUrl.Redact(url));
        context.Record.Summary = $"signed URL checked: {SignedUrl.Redact(url)}";
    }
}

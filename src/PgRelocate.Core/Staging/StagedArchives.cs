using PgRelocate.Archives;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Staging;

/// <summary>
/// Staged archives' manifests. Dumping into a store and restoring from one are the dump's and the restore's
/// business (<c>StagedDump</c>, <c>ArchiveSources</c>): the staging layer knows nothing above it.
/// </summary>
public static class StagedArchives
{
    /// <summary>
    /// The manifest for a restore: the one given (a path, a location or a signed URL), else the one beside the
    /// archive when there is one (an unsigned URL's too; never a signed URL's, whose signature covers the archive
    /// only). A remote archive restored without one is named in a warning: its identity was not checked.
    /// </summary>
    public static async Task<DumpManifest?> FindManifestAsync(StagingLocation archive, string? explicitManifest, StagingOptions options, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(archive);
        ArgumentNullException.ThrowIfNull(reporter);
        var location = explicitManifest is null ? archive.Manifest : StagingLocation.Parse(explicitManifest);
        string? json = null;
        if (location is not null)
        {
            var store = StagingStores.Open(location, options, reporter);
            try
            {
                json = await StagingStores.ReadTextAsync(store, location.Key, cancellationToken);
            }
            catch (StagingException e) when (explicitManifest is null && archive.Kind == LocationKind.Http)
            {
                // A web server may refuse a path it does not serve (a public bucket answers 403): no manifest there.
                reporter.Debug($"No manifest at {location}: {e.Message}");
            }
        }

        if (json is not null)
        {
            return DumpManifest.FromJson(json, location!.ToString());
        }

        if (explicitManifest is not null)
        {
            throw new UsageException($"The manifest {location} does not exist: pass the .manifest.json stored beside the archive, or leave --manifest out.");
        }

        if (archive.IsRemote)
        {
            reporter.Warn(location is null
                ? $"The archive's identity was not checked: a signed URL covers the archive only, so no manifest could be looked for beside {archive} (it is still read through whole before the target is touched). Sign the manifest too (pgrelocate url LOCATION --with-manifest) and pass its URL with --manifest."
                : $"The archive's identity was not checked: there is no manifest at {location} (the archive is still read through whole before the target is touched). Pass the archive's manifest with --manifest FILE or URL.");
        }

        return null;
    }
}

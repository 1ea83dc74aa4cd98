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
    /// The manifest for a restore: the one given (a path or location), else the one beside the archive when
    /// there is one (never for a bare URL, whose signature covers the archive only).
    /// </summary>
    public static async Task<DumpManifest?> FindManifestAsync(StagingLocation archive, string? explicitManifest, StagingOptions options, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(archive);
        var location = explicitManifest is null ? archive.Manifest : StagingLocation.Parse(explicitManifest);
        if (location is null)
        {
            return null;
        }

        var store = StagingStores.Open(location, options, reporter);
        var json = await StagingStores.ReadTextAsync(store, location.Key, cancellationToken);
        if (json is null)
        {
            return explicitManifest is null ? null : throw new UsageException($"The manifest {location} does not exist: pass the .manifest.json stored beside the archive, or leave --manifest out.");
        }

        return DumpManifest.FromJson(json, location.ToString());
    }
}

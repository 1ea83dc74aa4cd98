using PgRelocate.Archives;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Staging;

/// <summary>
/// Staged archives' manifests. Dumping into a store and restoring from one are the dump's and the restore's
/// business (<c>StagedDump</c>, <c>ArchiveSources</c>): the staging layer knows nothing above it.
/// </summary>
internal static class StagedArchives
{
    /// <summary>
    /// The manifest for a restore: the one given (a path, a location or a signed URL), else the one beside the
    /// archive when there is one (an unsigned URL's too; never a signed URL's, whose signature covers the archive
    /// only). A remote archive restored without one is named in a warning: its identity was not checked. Only an
    /// answer that says there is none (404; beside a URL, also 401 or 403, as a public bucket answers for a key it
    /// does not list) means "no manifest": one that fails to download (a server error after the retries, a body
    /// cut short) is an error, before the target is touched.
    /// </summary>
    /// <exception cref="PgRelocateException">The manifest could not be read.</exception>
    public static async Task<DumpManifest?> FindManifestAsync(StagingLocation archive, string? explicitManifest, StagingOptions options, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(archive);
        ArgumentNullException.ThrowIfNull(reporter);
        var location = explicitManifest is null ? archive.Manifest : StagingLocation.Parse(explicitManifest);
        string? json = null;
        string? refused = null;
        if (location is not null)
        {
            var store = StagingStores.Open(location, options, reporter);
            try
            {
                json = await StagingStores.ReadTextAsync(store, location.Key, cancellationToken);
            }
            catch (StagingException e) when (explicitManifest is null && archive.Kind == LocationKind.Http && e.HttpStatus is 401 or 403)
            {
                refused = $"HTTP {e.HttpStatus}";
                reporter.Debug($"No manifest at {location}: {e.Message}");
            }
            catch (StagingException e) when (explicitManifest is null && e is not StagingNotFoundException)
            {
                throw new PgRelocateException(Sentences.NothingWasChanged(
                    $"The archive's manifest {location} could not be read: {e.Message.TrimEnd('.')}",
                    "Run the command again once it can be downloaded, or pass the manifest with --manifest FILE"), ExitCode.Failed, e);
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
                : $"The archive's identity was not checked: there is no manifest at {location}{(refused is null ? "" : $" (it answered {refused})")} (the archive is still read through whole before the target is touched). Pass the archive's manifest with --manifest FILE or URL.");
        }

        return null;
    }
}

using PgRelocate.Archives;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Staging;
using PgRelocate.Tools;

namespace PgRelocate.Dump;

/// <summary>
/// Dumps into a staged location (a path, s3://, azure://): the archive streams straight into the upload (no
/// local copy), and its manifest is stored beside it once the archive is whole.
/// </summary>
public static class StagedDump
{
    /// <summary>Dumps <paramref name="source"/> into <paramref name="location"/>, then stores the manifest beside it.</summary>
    /// <param name="copyTo">A second, local copy written alongside (a restore that follows the dump reads it).</param>
    public static async Task<DumpManifest> DumpAsync(
        DumpRunner runner, PgConnectionInfo source, StagingLocation location, IStagingStore store, bool force, bool createBucket, bool allowPublic, IReporter reporter, CancellationToken cancellationToken, Stream? copyTo = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(reporter);
        if (!store.CanWrite)
        {
            throw new UsageException($"{location} is read only: dump to a path, s3:// or azure:// location.");
        }

        // A table the login role may not read, or not every row of, would stop pg_dump partway: refused before the store is touched.
        await SourceReadability.RefuseUnlessWholeAsync(source, cancellationToken);

        foreach (var note in await store.PrepareAsync(createBucket, allowPublic, cancellationToken))
        {
            reporter.Info(note);
        }

        if (!force && await store.StatAsync(location.Key, cancellationToken) is not null)
        {
            throw new UsageException($"{location} already exists: choose another --to location, or pass --force to replace it.");
        }

        DumpManifest manifest;
        await using (var writer = await StagingWriter.CreateAsync(store, location.Key, new UploadOptions(), cancellationToken))
        {
            manifest = await runner.RunAsync(source, copyTo is null ? writer : new TeeStream(writer, copyTo), cancellationToken);
            await writer.CommitAsync(cancellationToken);
            if (!string.Equals(writer.Sha256, manifest.Sha256, StringComparison.OrdinalIgnoreCase) || writer.BytesWritten != manifest.ArchiveBytes)
            {
                await store.DeleteAsync(location.Key, CancellationToken.None);
                throw new PgRelocateException($"The bytes uploaded to {location} differ from what pg_dump wrote; the object was deleted. Run the dump again.");
            }
        }

        // The archive first, then its manifest: a manifest never describes an archive that is not there.
        await StagingStores.WriteTextAsync(store, location.Manifest!.Key, manifest.ToJson(), cancellationToken);
        return manifest;
    }
}

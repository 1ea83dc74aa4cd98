using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Dump;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;

namespace PgRelocate.Staging;

/// <summary>
/// Dumps into and restores from staged locations: the seam between the staging stores and the dump and
/// restore engines. A dump streams straight into an upload (no local copy); a restore streams from the
/// store, or downloads to a private temporary file first when pg_restore runs parallel jobs.
/// </summary>
public static class StagedArchives
{
    /// <summary>Dumps <paramref name="source"/> into <paramref name="location"/>, then stores the manifest beside it.</summary>
    public static async Task<DumpManifest> DumpAsync(
        DumpRunner runner, PgConnectionInfo source, StagingLocation location, IStagingStore store, bool force, bool createBucket, bool allowPublic, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(reporter);
        if (!store.CanWrite)
        {
            throw new UsageException($"{location} is read only: dump to a path, s3:// or azure:// location.");
        }

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
            manifest = await runner.RunAsync(source, writer, cancellationToken);
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

    /// <summary>An archive input for the restore engine reading <paramref name="location"/> as a checked stream.</summary>
    public static async Task<StreamedArchive> StreamAsync(StagingLocation location, IStagingStore store, DumpManifest? manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(store);
        var size = (await store.StatAsync(location.Key, cancellationToken))?.Size;
        if (manifest is not null && size is { } s && s != manifest.ArchiveBytes)
        {
            throw new UsageException($"{location} is {s} bytes but its manifest says {manifest.ArchiveBytes}: it is {(s < manifest.ArchiveBytes ? "truncated" : "not the archive the manifest describes")}. Nothing was changed.");
        }

        return new StreamedArchive(location.ToString(), size ?? manifest?.ArchiveBytes, async ct =>
        {
            var raw = await store.OpenReadAsync(location.Key, 0, ct);
            var checkedStream = await ArchiveProbe.CheckAsync(raw, location.ToString(), ct);
            return manifest is null ? checkedStream : new VerifyingStream(checkedStream, manifest.ArchiveBytes, manifest.Sha256, location.ToString());
        });
    }

    /// <summary>Downloads to a new owner-only temporary file (for parallel restore); the caller deletes its folder.</summary>
    public static async Task<string> DownloadAsync(StagingLocation location, IStagingStore store, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(reporter);
        var dir = Directory.CreateTempSubdirectory("pgrelocate-download-");
        var path = Path.Combine(dir.FullName, "archive.dump");
        var size = (await store.StatAsync(location.Key, cancellationToken))?.Size;
        await using var source = await ArchiveProbe.CheckAsync(await store.OpenReadAsync(location.Key, 0, cancellationToken), location.ToString(), cancellationToken);
        await using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Options = FileOptions.Asynchronous,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        var buffer = new byte[1 << 20];
        long done = 0;
        int n;
        while ((n = await source.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            done += n;
            reporter.Progress(new ProgressUpdate("download", done, size, "B", location.ToString(), done));
        }

        reporter.Progress(new ProgressUpdate("download", done, size, "B", location.ToString(), done, Finished: true));
        return path;
    }
}

using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Dump;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Tools;

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
            // copyTo: a second, local copy written alongside (a restore that follows the dump reads it).
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

    /// <summary>
    /// Runs <paramref name="restore"/> on <paramref name="location"/>: with one job as a checked stream, with
    /// more on a download it follows (see <see cref="StartDownloadAsync"/>). A restore that fails because the
    /// download failed reports the download's error.
    /// </summary>
    public static async Task<T> RestoreFromAsync<T>(
        StagingLocation location, IStagingStore store, DumpManifest? manifest, int jobs, IReporter reporter, Func<ArchiveInput, Task<T>> restore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(restore);
        if (jobs <= 1)
        {
            return await restore(await StreamAsync(location, store, manifest, cancellationToken));
        }

        await using var download = await StartDownloadAsync(location, store, manifest, reporter, cancellationToken);
        try
        {
            return await restore(download.Input);
        }
        catch (Exception) when (download.Error is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            throw;
        }
    }

    /// <summary>
    /// Starts downloading <paramref name="location"/> into an owner-only temporary file that a parallel restore
    /// reads as it grows (checked against the manifest when there is one: a mismatch fails the restore before
    /// its last part). Disposing stops the download and deletes the file.
    /// </summary>
    private static async Task<ArchiveDownload> StartDownloadAsync(StagingLocation location, IStagingStore store, DumpManifest? manifest, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reporter);
        var streamed = await StreamAsync(location, store, manifest, cancellationToken);
        var dir = Interrupts.TempFolder("pgrelocate-download-");
        var spool = new ArchiveSpool(Path.Combine(dir.FullName, "archive.dump"));
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var task = Task.Run(async () =>
        {
            try
            {
                await using var source = await streamed.Open(stop.Token);
                var buffer = new byte[1 << 20];
                long done = 0;
                int n;
                while ((n = await source.ReadAsync(buffer, stop.Token)) > 0)
                {
                    await spool.Writer.WriteAsync(buffer.AsMemory(0, n), stop.Token);
                    done += n;
                    reporter.Progress(new ProgressUpdate("download", done, streamed.Length, "B", streamed.Name, done));
                }

                reporter.Progress(new ProgressUpdate("download", done, streamed.Length, "B", streamed.Name, done, Finished: true));
                spool.Complete();
            }
            catch (Exception e)
            {
                spool.Fail(e);
                throw;
            }
        }, CancellationToken.None);
        return new ArchiveDownload(new GrowingArchive(streamed.Name, spool), task, stop, dir.FullName);
    }
}

/// <summary>A download into a file that a restore follows: <see cref="Input"/> for the restore, <see cref="Completion"/> for the download's outcome.</summary>
internal sealed class ArchiveDownload(GrowingArchive input, Task completion, CancellationTokenSource stop, string folder) : IAsyncDisposable
{
    public GrowingArchive Input { get; } = input;

    public Task Completion { get; } = completion;

    /// <summary>The download's own error, when it failed: it explains a restore that failed for want of bytes.</summary>
    public Exception? Error => Completion.IsFaulted ? Completion.Exception!.InnerException : null;

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        try
        {
            await Completion;
        }
        catch (Exception)
        {
            // Reported through the restore, or not needed any more.
        }

        await Input.Spool.DisposeAsync();
        stop.Dispose();
        Directory.Delete(folder, recursive: true);
    }
}

using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Staging;
using PgRelocate.Tools;

namespace PgRelocate.Restore;

/// <summary>A restore from a location: a local path, an http(s) URL, s3:// or azure://.</summary>
public sealed record LocationRestoreOptions
{
    public required PgConnectionInfo Target { get; init; }

    /// <summary>The archive: a path, s3://BUCKET/KEY, azure://ACCOUNT/CONTAINER/BLOB or an http(s) URL.</summary>
    public required string Location { get; init; }

    /// <summary>The manifest's location, when given; else the one beside the archive is used when there is one.</summary>
    public string? ManifestLocation { get; init; }

    /// <summary>The manifest itself, when the caller has it already (it wins over <see cref="ManifestLocation"/>).</summary>
    public DumpManifest? Manifest { get; init; }

    public StagingOptions Staging { get; init; } = new();

    public string? Confirm { get; init; }

    public int Jobs { get; init; } = 1;

    public required string LogPath { get; init; }

    public bool Analyze { get; init; } = true;
}

/// <summary>
/// The one entry point for restoring from a location. It decides once how the archive is read, so that no
/// byte reaches the target before the archive is known whole:
/// <list type="bullet">
/// <item>a local file is checked in place (against its manifest, else read through) and restored with the jobs asked for;</item>
/// <item>from a store or URL, with a manifest whose size matches the stored object's and several jobs, the restore
///   follows the download (its table of contents read and checked first; the SHA-256 checked as the download ends);</item>
/// <item>otherwise the archive is downloaded to a private temporary file first, checked on the way (size and
///   SHA-256 against the manifest, else read through), then restored from that file with the jobs asked for.</item>
/// </list>
/// </summary>
public sealed class ArchiveSources(PgBinaries binaries, IReporter reporter)
{
    /// <exception cref="UsageException">The archive is missing, not an archive, truncated, damaged or not its manifest's, or there is no room to download it.</exception>
    public async Task<RestoreResult> RestoreAsync(LocationRestoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Jobs < 1)
        {
            throw new UsageException("--jobs must be 1 or more.");
        }

        var location = StagingLocation.Parse(options.Location);
        var manifest = options.Manifest ?? await StagedArchives.FindManifestAsync(location, options.ManifestLocation, options.Staging, reporter, cancellationToken);
        var runner = new RestoreRunner(binaries, reporter);
        RestoreOptions Restore(ArchiveInput input, DumpManifest? checkAgainst) => new()
        {
            Target = options.Target,
            Input = input,
            Confirm = options.Confirm,
            Jobs = options.Jobs,
            Manifest = checkAgainst,
            LogPath = options.LogPath,
            Analyze = options.Analyze,
            TableBytes = manifest?.Tables.GroupBy(t => t.Schema + "." + t.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(t => t.EstimatedBytes), StringComparer.Ordinal),
        };

        if (!location.IsRemote)
        {
            return await runner.RunAsync(Restore(new LocalArchive(location.Key), manifest), cancellationToken);
        }

        var store = StagingStores.Open(location, options.Staging, reporter);
        var size = (await store.StatAsync(location.Key, cancellationToken))?.Size;
        if (manifest is not null && size is { } s && s != manifest.ArchiveBytes)
        {
            throw new UsageException($"{location} is {s} bytes but its manifest says {manifest.ArchiveBytes}: it is {(s < manifest.ArchiveBytes ? "truncated" : "not the archive the manifest describes")}. Nothing was changed.");
        }

        if (manifest is not null && size == manifest.ArchiveBytes && options.Jobs > 1)
        {
            await using var download = ArchiveDownload.Start(location, store, manifest, size, reporter, cancellationToken);
            try
            {
                return await runner.RunAsync(Restore(download.Input, manifest), cancellationToken);
            }
            catch (Exception) when (download.Error is { } error)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
                throw;
            }
        }

        var folder = PrivateFolder(location, size ?? manifest?.ArchiveBytes);
        try
        {
            var path = Path.Combine(folder, "archive.dump");
            await ArchiveDownload.ToFileAsync(location, store, manifest, size, path, reporter, cancellationToken);
            if (manifest is not null)
            {
                reporter.Info($"Archive checked: {Units.Bytes(manifest.ArchiveBytes)}, SHA-256 matches the manifest.");
            }

            // Without a manifest the file is read through before the target is touched (RestoreRunner does it).
            return await runner.RunAsync(Restore(new LocalArchive(path) { Name = location.ToString(), Checked = manifest is not null }, null), cancellationToken);
        }
        finally
        {
            TryDelete(folder);
        }
    }

    /// <summary>A new owner-only temporary folder, once it is known to have room for <paramref name="bytes"/>.</summary>
    private static string PrivateFolder(StagingLocation location, long? bytes)
    {
        var temp = Path.GetTempPath();
        if (bytes is { } needed)
        {
            var free = new DriveInfo(Path.GetFullPath(temp)).AvailableFreeSpace;
            if (free < needed + (64L << 20))
            {
                throw new UsageException(
                    $"{location} ({Units.Bytes(needed)}) must be downloaded and checked before the restore, but the temporary folder {temp} has only {Units.Bytes(free)} free: point TMPDIR at a folder with room, or download the archive and restore the file. Nothing was changed.");
            }
        }

        return Directory.CreateTempSubdirectory("pgrelocate-download-").FullName;
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Left for the system's temp cleanup.
        }
    }
}

/// <summary>
/// A download of a staged archive into an owner-only temporary file: checked as it arrives (the PGDMP magic;
/// size and SHA-256 against the manifest when there is one). Either whole before the restore starts
/// (<see cref="ToFileAsync"/>), or followed by a restore as it grows (<see cref="Start"/>).
/// </summary>
internal sealed class ArchiveDownload : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly string _folder;

    private ArchiveDownload(GrowingArchive input, Task completion, CancellationTokenSource stop, string folder)
    {
        Input = input;
        Completion = completion;
        _stop = stop;
        _folder = folder;
    }

    public GrowingArchive Input { get; }

    public Task Completion { get; }

    /// <summary>The download's own error, when it failed: it explains a restore that failed for want of bytes.</summary>
    public Exception? Error => Completion.IsFaulted ? Completion.Exception!.InnerException : null;

    /// <summary>Downloads the whole archive into <paramref name="path"/>, checking it on the way.</summary>
    /// <exception cref="StagingException">It is not an archive, or does not match its manifest.</exception>
    public static async Task ToFileAsync(StagingLocation location, IStagingStore store, DumpManifest? manifest, long? size, string path, IReporter reporter, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            BufferSize = 1 << 16,
            Options = FileOptions.Asynchronous,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        await CopyAsync(location, store, manifest, size, file, reporter, cancellationToken);
        await file.FlushAsync(cancellationToken);
    }

    /// <summary>Starts the download into a file that a restore follows as it grows; disposing stops it and deletes the file.</summary>
    public static ArchiveDownload Start(StagingLocation location, IStagingStore store, DumpManifest? manifest, long? size, IReporter reporter, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("pgrelocate-download-");
        var spool = new ArchiveSpool(Path.Combine(dir.FullName, "archive.dump"));
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var task = Task.Run(async () =>
        {
            try
            {
                await CopyAsync(location, store, manifest, size, spool.Writer, reporter, stop.Token);
                spool.Complete();
            }
            catch (Exception e)
            {
                spool.Fail(e);
                throw;
            }
        }, CancellationToken.None);
        return new ArchiveDownload(new GrowingArchive(location.ToString(), spool), task, stop, dir.FullName);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Completion;
        }
        catch (Exception)
        {
            // Reported through the restore, or not needed any more.
        }

        await Input.Spool.DisposeAsync();
        _stop.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static async Task CopyAsync(StagingLocation location, IStagingStore store, DumpManifest? manifest, long? size, Stream destination, IReporter reporter, CancellationToken cancellationToken)
    {
        var name = location.ToString();
        var raw = await store.OpenReadAsync(location.Key, 0, cancellationToken);
        var probed = await ArchiveProbe.CheckAsync(raw, name, cancellationToken);
        await using var source = manifest is null ? probed : new VerifyingStream(probed, manifest.ArchiveBytes, manifest.Sha256, name);
        var total = size ?? manifest?.ArchiveBytes;
        var buffer = new byte[1 << 20];
        long done = 0;
        int n;
        while ((n = await source.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            done += n;
            reporter.Progress(new ProgressUpdate("download", done, total, "B", name, done));
        }

        reporter.Progress(new ProgressUpdate("download", done, total, "B", name, done, Finished: true));
    }
}

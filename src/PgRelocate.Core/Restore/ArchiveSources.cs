using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Staging;
using PgRelocate.Targets;
using PgRelocate.Tools;

namespace PgRelocate.Restore;

/// <summary>A restore from a location: a local path, an http(s) URL, s3:// or azure://.</summary>
public sealed record LocationRestoreOptions
{
    /// <summary>The target, --confirm, --lock-timeout, own sessions and the restore's jobs.</summary>
    public required TargetOptions Into { get; init; }

    /// <summary>The archive: a path, s3://BUCKET/KEY, azure://ACCOUNT/CONTAINER/BLOB or an http(s) URL.</summary>
    public required string Location { get; init; }

    /// <summary>The manifest's location, when given; else the one beside the archive is used when there is one.</summary>
    public string? ManifestLocation { get; init; }

    /// <summary>The manifest itself, when the caller has it already (it wins over <see cref="ManifestLocation"/>).</summary>
    public DumpManifest? Manifest { get; init; }

    public StagingOptions Staging { get; init; } = new();

    /// <summary>Where pg_restore's whole output is kept.</summary>
    public required string LogPath { get; init; }

    /// <summary>Run ANALYZE afterwards, so the planner has statistics before applications connect.</summary>
    public bool Analyze { get; init; } = true;

    /// <summary>--roles: the roles the archive names created where the target lacks them, owners and privileges kept as the archive has them.</summary>
    public bool Roles { get; init; }
}

/// <summary>
/// The one entry point for restoring from a location. It decides once how the archive is read, so that no
/// byte reaches the target before the archive is known whole:
/// <list type="bullet">
/// <item>a local file is checked in place (against its manifest, else read through) and restored with the jobs asked for;</item>
/// <item>from a store or URL, the size is first compared with the manifest's; the archive is then downloaded to a
///   private temporary file (after checking there is room), checked on the way (size and SHA-256 against the
///   manifest, else read through once it is in), and restored from that file with the jobs asked for.</item>
/// </list>
/// A restore that followed the download would start before the SHA-256 is known: a damaged archive of the right
/// size would have replaced the target before it was found out. (migrate still restores while it dumps: that
/// archive is its own, written by its own pg_dump: <see cref="RestoreArrivingAsync"/>.)
/// Every restore, the commands' and the migration's, starts here; the job count is checked here once.
/// </summary>
public sealed class ArchiveSources(PgBinaries binaries, IReporter reporter)
{
    /// <exception cref="UsageException">The archive is missing, not an archive, truncated, damaged or not its manifest's, or there is no room to download it.</exception>
    public async Task<RestoreResult> RestoreAsync(LocationRestoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckJobs(options.Into);
        Tools.OutputPaths.EnsureWritable(options.LogPath, "--log", createsFolder: true);
        var location = StagingLocation.Parse(options.Location);
        var manifest = options.Manifest ?? await StagedArchives.FindManifestAsync(location, options.ManifestLocation, options.Staging, reporter, cancellationToken);
        var runner = new RestoreRunner(binaries, reporter);
        RestoreOptions Restore(ArchiveInput input, DumpManifest? checkAgainst) => new()
        {
            Into = options.Into,
            Input = input,
            Manifest = checkAgainst,
            LogPath = options.LogPath,
            Analyze = options.Analyze,
            Roles = options.Roles,
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

        var folder = PrivateFolder(location, size ?? manifest?.ArchiveBytes);
        try
        {
            var path = Path.Combine(folder, "archive.dump");
            await DownloadAsync(location, store, manifest, size, path, reporter, cancellationToken);
            if (manifest is not null)
            {
                reporter.Info($"Archive checked: {Units.Bytes(manifest.ArchiveBytes)}, SHA-256 matches the manifest.");
            }

            // Without a manifest the file is read through before the target is touched (RestoreRunner does it).
            return await runner.RunAsync(Restore(new LocalArchive(path) { Name = location.ToString(), Checked = manifest is not null }, null), cancellationToken);
        }
        finally
        {
            Interrupts.DeleteTempFolder(folder);
        }
    }

    /// <summary>
    /// Restores an archive our own dump is still writing into <paramref name="archive"/>'s spool, on
    /// <see cref="TargetOptions.Jobs"/> lanes that follow it (see <see cref="ScheduledRestore"/>): the
    /// migration's restore alongside its dump.
    /// </summary>
    /// <param name="tableBytes">The archive's tables' sizes ("schema.name" → bytes), for spreading the lanes; null: round-robin.</param>
    public Task<RestoreResult> RestoreArrivingAsync(TargetOptions into, GrowingArchive archive, IReadOnlyDictionary<string, long>? tableBytes, string logPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(into);
        CheckJobs(into);
        return new RestoreRunner(binaries, reporter).RunAsync(
            new RestoreOptions { Into = into, Input = archive, TableBytes = tableBytes, LogPath = logPath }, cancellationToken);
    }

    private static void CheckJobs(TargetOptions into)
    {
        if (into.Jobs < 1)
        {
            throw new UsageException("--jobs must be 1 or more.");
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

        return Interrupts.TempFolder("pgrelocate-download-").FullName;
    }

    /// <summary>Downloads the whole archive into <paramref name="path"/> (owner-only), checking its head and, with a manifest, its size and SHA-256 on the way.</summary>
    /// <exception cref="StagingException">It is not an archive, or does not match its manifest.</exception>
    private static async Task DownloadAsync(StagingLocation location, IStagingStore store, DumpManifest? manifest, long? size, string path, IReporter reporter, CancellationToken cancellationToken)
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

using PgRelocate.Archives;
using PgRelocate.Catalog;
using PgRelocate.Dump;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Staging;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// Dumps the source into --via or the migration's folder. With more than one job the restore starts at the
/// same time: it follows a local copy of the archive as pg_dump writes it (see <see cref="ScheduledRestore"/>),
/// and the restore step waits for it. A rerun starts the dump over: pg_dump cannot resume.
/// </summary>
internal sealed class DumpStep : IMigrationStep
{
    public const string StepName = "dump";

    /// <summary>Where the archive is: a file, or a store's location (what the restore and the cleanup read).</summary>
    public static readonly JournalKey<string> Archive = JournalKey.Text("archive");

    public static readonly JournalKey<long?> ArchiveBytes = JournalKey.Count("bytes");

    public static readonly JournalKey<string> Sha256 = JournalKey.Text("sha256");

    /// <summary>The source database's size when it was dumped.</summary>
    public static readonly JournalKey<long?> DatabaseBytes = JournalKey.Count("databaseBytes");

    public static readonly JournalKey<string> SourceVersion = JournalKey.Text("sourceVersion");

    public string Name => StepName;

    public EstimatedPart? Estimated => EstimatedPart.DumpRestore;

    public string? SkipReason(MigrationOptions options) => options.Direct ? "copied directly instead (--direct)" : null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        // With --via straight into the store (no local copy), else into a file in the migration's folder.
        // A rerun replaces what an interrupted one left.
        var location = StagingLocation.Parse(options.Via ?? Path.Combine(context.Folder, "archive.dump"));
        var store = StagingStores.Open(location, options.Staging, context.Reporter);
        var facts = await DumpRunner.ReadFactsAsync(options.Source, cancellationToken);
        RefuseUnlessRoom(context, location, facts);
        var runner = new DumpRunner(context.Binaries, context.Reporter, options.Compression, facts);
        var restore = options.Into.Jobs > 1 ? StartRestore(context, facts, cancellationToken) : null;
        DumpManifest manifest;
        try
        {
            manifest = await StagedDump.DumpAsync(
                runner, options.Source, location, store, force: true, options.CreateBucket, allowPublic: false, context.Reporter, cancellationToken, restore?.Spool.Writer);
            restore?.Spool.Complete();
        }
        catch (Exception e)
        {
            if (restore is not null)
            {
                restore.Spool.Fail(e);
                await restore.DisposeAsync();
            }

            throw;
        }

        if (restore is not null)
        {
            context.HandOff(restore);
        }

        context.Record.Set(Archive, location.ToString());
        context.Record.Set(ArchiveBytes, manifest.ArchiveBytes);
        context.Record.Set(Sha256, manifest.Sha256);
        context.Record.Set(DatabaseBytes, manifest.DatabaseSizeBytes);
        context.Record.Set(SourceVersion, manifest.SourceServerVersion);
        context.Record.Summary = $"{Units.Bytes(manifest.ArchiveBytes)} from a {Units.Bytes(manifest.DatabaseSizeBytes)} database, sha256 {manifest.Sha256[..12]}…"
            + (restore is null ? "" : "; the restore ran alongside");
    }

    /// <summary>
    /// The dump's estimate against the room in the folders it fills (the archive, unless --via sends it to a store;
    /// the following restore's copy of it), before that restore empties the target. What a rerun replaces counts as room.
    /// </summary>
    /// <exception cref="Errors.UsageException">A folder lacks the room; nothing was changed.</exception>
    private static void RefuseUnlessRoom(MigrationContext context, StagingLocation location, DatabaseFacts facts)
    {
        var bytes = facts.EstimatedDumpBytes(context.Options.Compression);
        var writes = new List<(string Folder, long Bytes, string What)>();
        if (!location.IsRemote)
        {
            writes.Add((Path.GetDirectoryName(Path.GetFullPath(location.Key))!, bytes - Replaced(location.Key), "the archive"));
        }

        if (context.Options.Into.Jobs > 1)
        {
            writes.Add((context.Folder, bytes - Replaced(Path.Combine(context.Folder, FollowingCopy)), "the restore's copy of it"));
        }

        Errors.DiskSpace.RefuseUnlessRoom(writes, "Free space there, or give --workdir a folder with more room (or --via a store for the archive), then run again.");

        static long Replaced(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
    }

    /// <summary>The name of the archive's local copy the following restore reads, in the migration's folder.</summary>
    private const string FollowingCopy = "archive.following";

    /// <summary>Starts the restore on a local copy of the archive that the dump is about to write.</summary>
    private static FollowingRestoreRun StartRestore(MigrationContext context, DatabaseFacts facts, CancellationToken cancellationToken)
    {
        var spool = new ArchiveSpool(Path.Combine(context.Folder, FollowingCopy));
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sizes = facts.Tables.GroupBy(t => t.Schema + "." + t.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(t => t.EstimatedBytes), StringComparer.Ordinal);
        var task = RestoreStep.RestoreArrivingAsync(context, new GrowingArchive("the archive as it is dumped", spool), sizes, stop.Token);
        return new FollowingRestoreRun(task, spool, stop);
    }
}

/// <summary>A restore running alongside the dump, on the archive's local copy: awaited, then disposed (which deletes the copy).</summary>
internal sealed class FollowingRestoreRun(Task<Restore.RestoreResult> task, ArchiveSpool spool, CancellationTokenSource stop) : IAsyncDisposable
{
    public Task<Restore.RestoreResult> Task { get; } = task;

    public ArchiveSpool Spool { get; } = spool;

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        try
        {
            await Task;
        }
        catch (Exception)
        {
            // Reported by the step that awaited it, or made moot by the dump's failure.
        }

        await Spool.DisposeAsync();
        stop.Dispose();
        File.Delete(Spool.Path);
    }
}

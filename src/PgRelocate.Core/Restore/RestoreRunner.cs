using System.Security.Cryptography;
using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Runners;
using PgRelocate.Targets;
using PgRelocate.Tools;

namespace PgRelocate.Restore;

/// <summary>What to restore where, and how.</summary>
internal sealed record RestoreOptions
{
    /// <summary>The target, --confirm, --lock-timeout, own sessions and the jobs (pg_restore's own parallel mode on a whole file of few tables, else lanes of pg_restore runs, see <see cref="ScheduledRestore"/>; checked by <see cref="ArchiveSources"/>).</summary>
    public required TargetOptions Into { get; init; }

    public required ArchiveInput Input { get; init; }

    /// <summary>The archive's manifest, when there is one: size and SHA-256 are checked against it.</summary>
    public DumpManifest? Manifest { get; init; }

    /// <summary>Where pg_restore's whole output is kept.</summary>
    public required string LogPath { get; init; }

    /// <summary>Run ANALYZE afterwards, so the planner has statistics before applications connect.</summary>
    public bool Analyze { get; init; } = true;

    /// <summary>--roles: the roles the archive names created where the target lacks them, owners and privileges kept as the archive has them.</summary>
    public bool Roles { get; init; }

    /// <summary>The archive's tables' sizes ("schema.name" → bytes: the manifest's, or the dump's), for spreading a parallel restore; else the bytes of their data in a local file, as its check found them.</summary>
    public IReadOnlyDictionary<string, long>? TableBytes { get; init; }
}

/// <summary>
/// Restores a pg_dump custom archive into a target database the way a managed target allows: no roles, no
/// ownership, no grants (everything ends up owned by the target's login role). Every check that can fail
/// (the archive's header and checksum, the pg_restore version, the extensions the archive needs, the
/// target being empty or confirmed) runs before the target is touched. Reached through
/// <see cref="ArchiveSources"/>, the one entry point, which checks what it is given.
/// </summary>
internal sealed class RestoreRunner(PgBinaries binaries, IReporter reporter)
{
    public const string ProgressTask = "restore";

    /// <exception cref="UsageException">The archive is not an archive, does not match its manifest, or the target is not empty and not confirmed.</exception>
    /// <exception cref="PgRelocateException">The target is unreachable, lacks an extension, or no fitting pg_restore is installed.</exception>
    public async Task<RestoreResult> RunAsync(RestoreOptions options, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var target = options.Into.Connection;

        // 1. The archive, before anything touches the target.
        PreparedArchive archive = options.Input switch
        {
            LocalArchive local => await PrepareLocalAsync(local, options.Manifest, cancellationToken),
            GrowingArchive growing => await PrepareGrowingAsync(growing, cancellationToken),
            _ => throw new ArgumentException("Unknown archive input.", nameof(options)),
        };

        // 2. The target: checked, then emptied when --confirm allows it.
        var scheduled = options.Into.Jobs > 1 && (options.Input is GrowingArchive || ScheduledRestore.SchedulesWholeFile(archive.Contents.Entries));
        var prepared = await TargetPreparation.CheckAsync(target, options.Into.Requirements(SessionCount.Restore(options.Into.Jobs, scheduled)) with
        {
            Extensions = archive.Contents.Extensions,
            ExtensionSchemas = archive.Contents.ExtensionSchemas,
            SourceMajor = SourceMajorOf(archive.Contents.Header),
            // --roles creates them before the emptying; without it the target must have them already.
            PolicyRoles = options.Roles ? [] : ArchiveRoles.Policies(archive.Contents.Entries),
        }, cancellationToken);
        prepared.WarnAbout(reporter);
        var pgRestore = binaries.PgRestoreFor(archive.Contents.Header.MinimumPgRestoreMajor, prepared.Server.Major);
        archive = archive with { PgRestore = pgRestore, TargetMajor = prepared.Server.Major };
        // pg_restore must connect as our session did, before the target is emptied.
        if ((await LibpqProbe.RunAsync(target, "target", pgRestore, cancellationToken)).SkippedBecause is { } why)
        {
            reporter.Warn(why + ".");
        }

        var roles = options.Roles ? await CreateRolesAsync(target, archive.Contents, cancellationToken) : [];
        await prepared.EmptyAsync(reporter, cancellationToken);

        // 3. pg_restore.
        options.Into.Changes.Now(TargetCondition.PartlyWritten);
        var result = await RunPgRestoreAsync(options, archive, started, replacing: prepared.Objects.Count > 0, scheduled, cancellationToken);
        if (result.Status != RestoreStatus.Failed)
        {
            options.Into.Changes.Now(TargetCondition.Written);
        }

        // --roles: the archive's owners and privileges, once every object is in.
        if (result.Status != RestoreStatus.Failed && options.Roles)
        {
            await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
            var applied = await Catalog.TargetAccess.ApplyArchivedAsync(conn, ArchiveRoles.Owners(archive.Contents.Entries), ArchiveRoles.Grants(archive.Contents.Entries, target.Database), cancellationToken);
            reporter.Info($"Owners and grants as the archive has them: {applied.Owners} objects given their owners, {applied.Grants} privilege entries.");
            result = result with { Access = applied };
        }

        // 4. Statistics, so the first queries after the cutover are not planned blind.
        if (result.Status != RestoreStatus.Failed && options.Analyze)
        {
            await TargetStatistics.AnalyzeAsync(target, options.Into.Jobs, reporter, cancellationToken, result.Analyzed);
        }

        return result with { Duration = DateTimeOffset.UtcNow - started, Roles = roles };
    }

    /// <summary>
    /// --roles: the roles the archive names (<see cref="ArchiveRoles"/>) created where the target lacks them and
    /// the login role made a member of every owner, once the target's checks passed and before it is emptied;
    /// refused before any change when the login role may not create roles. The restore itself runs as always (no
    /// owners, no ACLs): pg_restore's own ALTER ... OWNER TO would fail wherever an object's owner may not create
    /// in its schema, which TargetAccess handles, giving the archive's owners and privileges after it.
    /// </summary>
    private async Task<IReadOnlyList<Catalog.RoleOutcome>> CreateRolesAsync(PgConnectionInfo target, ArchiveContents contents, CancellationToken cancellationToken)
    {
        var (named, owners) = ArchiveRoles.Read(contents.Entries);
        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        var outcomes = await Catalog.TargetRoles.CreateNamedAsync(conn, named, owners, cancellationToken);
        foreach (var o in outcomes.Where(o => o.Notable))
        {
            reporter.Warn(o.ToString());
        }

        return outcomes;
    }

    /// <summary>The major version of the server the archive was dumped from ("17.6 (Debian ...)" → 17, "9.6.24" → 9), as its header says.</summary>
    internal static int? SourceMajorOf(ArchiveHeader header)
    {
        var digits = new string((header.ServerVersion ?? "").TakeWhile(char.IsAsciiDigit).ToArray());
        return digits.Length is > 0 and < 6 ? int.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private async Task<PreparedArchive> PrepareLocalAsync(LocalArchive local, DumpManifest? manifest, CancellationToken cancellationToken)
    {
        if (Directory.Exists(local.Path))
        {
            throw new UsageException($"'{local.Path}' is a folder: pass the archive file written by 'pgrelocate dump'.");
        }

        if (!File.Exists(local.Path))
        {
            throw new UsageException($"'{local.Path}' does not exist: pass the archive file written by 'pgrelocate dump'.");
        }

        var display = $"'{local.Display}'";
        IReadOnlyDictionary<int, long>? dataBytes = null;
        // The header and table of contents, read once; they say which pg_restore can read the archive.
        var contents = ArchiveContents.Read(local.Path, local.Display);
        var pgRestore = binaries.PgRestoreFor(contents.Header.MinimumPgRestoreMajor, 0);
        if (local.Checked)
        {
            // Checked against its manifest as it was downloaded.
        }
        else if (manifest is not null)
        {
            await CheckAgainstManifestAsync(local, manifest, cancellationToken);
        }
        else
        {
            // No checksum to compare with: every data block must be there, whole (the framing check, which
            // names what is missing), and must decompress (pg_restore reads it through), so a truncated or
            // damaged file is refused now rather than half restored.
            dataBytes = await ArchiveFramingCheck.CheckFileAsync(local.Path, cancellationToken, local.Display);
            await PgRestore.ReadThroughAsync(pgRestore, local.Path, display, reporter, cancellationToken);
        }

        return new PreparedArchive(contents, pgRestore, local.Path, null) { DataBytes = dataBytes };
    }

    /// <summary>
    /// An archive still being written: its header and table of contents are read as soon as they are there,
    /// and it is restored by a <see cref="FollowingRestore"/>, which follows the file as it grows.
    /// </summary>
    private async Task<PreparedArchive> PrepareGrowingAsync(GrowingArchive growing, CancellationToken cancellationToken)
    {
        ArchiveContents contents;
        await using (var reader = growing.Spool.OpenReader())
        {
            contents = await ArchiveContents.ReadAsync(reader, $"'{growing.Display}'", cancellationToken);
        }

        return new PreparedArchive(contents, binaries.PgRestoreFor(contents.Header.MinimumPgRestoreMajor, 0), growing.Spool.Path, growing.Spool);
    }

    private async Task CheckAgainstManifestAsync(LocalArchive local, DumpManifest manifest, CancellationToken cancellationToken)
    {
        var (path, name) = (local.Path, local.Display);
        var length = new FileInfo(path).Length;
        if (length != manifest.ArchiveBytes)
        {
            throw new UsageException(
                $"'{name}' is {length} bytes but its manifest says {manifest.ArchiveBytes}: the archive is {(length < manifest.ArchiveBytes ? "truncated" : "not the one the manifest describes")}. Dump or download it again. Nothing was changed.");
        }

        using var sha = SHA256.Create();
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        var hash = Convert.ToHexStringLower(await sha.ComputeHashAsync(file, cancellationToken));
        if (!string.Equals(hash, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"'{name}' does not match its manifest's SHA-256: the archive is damaged. Dump or download it again. Nothing was changed.");
        }

        reporter.Info($"Archive checked: {Units.Bytes(length)}, SHA-256 matches the manifest.");
    }

    private async Task<RestoreResult> RunPgRestoreAsync(RestoreOptions options, PreparedArchive archive, DateTimeOffset started, bool replacing, bool scheduled, CancellationToken cancellationToken)
    {
        var target = options.Into.Connection;
        var following = archive.Spool is not null;
        var jobs = options.Into.Jobs;
        reporter.Info($"Restoring {options.Input.Display} into {target.Display} with pg_restore {archive.PgRestore.Version}{(jobs > 1 ? $", {jobs} jobs" : "")}{(following ? ", while the archive is still arriving" : "")}.");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.LogPath))!);
        await using var log = new StreamWriter(options.LogPath, append: false);
        var progress = new RestoreProgress(reporter, archive.Contents.Entries.Count);
        var runner = new PgRestore(archive.PgRestore, target, archive.TargetMajor, log.WriteLine, reporter);
        var existing = await ExistingSchemas.FindAsync(target, archive.Contents.Entries, cancellationToken);
        foreach (var note in existing.Notes)
        {
            runner.Log($"# left out: {note.Entry} ({note.Message})");
        }

        var parts = new RestoreParts(runner, target, archive.Contents.Entries, existing, progress.OnStep) { Replacing = replacing };
        IReadOnlyCollection<(string Schema, string Name)> analyzed = [];
        var work = Interrupts.TempFolder("pgrelocate-restore-");
        try
        {
            if (scheduled)
            {
                var sizes = options.TableBytes
                    ?? (archive.DataBytes is { } bytes ? ScheduledRestore.TableBytes(archive.Contents.Entries, bytes) : null);
                var restore = new ScheduledRestore(archive.Path, archive.Spool, jobs, sizes, work.FullName, parts, options.Analyze ? AnalyzeAsync : null, IndexSettingsAsync);
                await restore.RunAsync(cancellationToken);
                analyzed = restore.Analyzed;
            }
            else
            {
                await RunLocalAsync(parts, archive.Path, jobs, archive.Contents.Extensions.Count > 0, work.FullName, cancellationToken);
            }
        }
        catch (RestorePartFailedException e)
        {
            runner.Log("# " + e.Message);
            if (e.Part is "pre-data")
            {
                parts.NotRun("data and post-data", "the rows, indexes, constraints, foreign keys and triggers: the pre-data section failed first");
            }
            else if (scheduled && e.Part is not ("post-data" or "foreign keys"))
            {
                parts.NotRun("post-data", $"foreign keys, triggers and the indexes and constraints not yet built: the {e.Part} failed first");
            }
        }
        finally
        {
            Interrupts.DeleteTempFolder(work.FullName);
        }

        progress.Finish();
        var issues = runner.Issues.Concat(parts.Notes).ToList();
        var warnings = issues.Where(i => i.IsHarmless).ToList();
        var errors = issues.Where(i => !i.IsHarmless).ToList();
        var status = errors.Count > 0 || parts.Failed
            ? RestoreStatus.Failed
            : warnings.Count > 0 ? RestoreStatus.CompletedWithWarnings : RestoreStatus.Completed;
        runner.Log($"# status {status}");
        return new RestoreResult(status, warnings, errors, Path.GetFullPath(options.LogPath), DateTimeOffset.UtcNow - started, runner.LastLines) { Analyzed = analyzed };

        // One session and one round trip for a batch of tables (one ANALYZE each: a list needs PostgreSQL 11).
        async Task AnalyzeAsync(IReadOnlyList<(string Schema, string Name)> tables, CancellationToken ct)
        {
            await using var conn = await Db.OpenAsync(target, "target", ct);
            await Db.ExecuteAsync(conn, string.Join("; ", tables.Select(t => $"ANALYZE {Db.Qualified(t.Schema, t.Name)}")), ct);
        }

        async Task<string?> IndexSettingsAsync(string sql, CancellationToken ct)
        {
            if (IndexBuilds.Parse(sql) is null)
            {
                return null;
            }

            await using var conn = await Db.OpenAsync(target, "target", ct);
            return await IndexBuilds.IsOverJsonbAsync(conn, sql, ct) ? "-c maintenance_work_mem=" + IndexBuilds.JsonbGinMemory : null;
        }
    }

    /// <summary>
    /// A whole local archive not scheduled by <see cref="ScheduledRestore"/>: in one pg_restore (with pg_restore's own
    /// parallel jobs); or the pre-data section first, then the rest with those jobs, when that section is large enough
    /// to go in waves of runs side by side (see <see cref="RestoreParts.RunPreDataAsync"/>), or when the archive holds
    /// rows of tables that may belong to an extension, so those tables can be looked at on the target before their
    /// rows are sent (see <see cref="ExtensionTables"/>). With more than one job, the foreign keys to a table that
    /// several tables reference are left out of that run and validated side by side after it (see
    /// <see cref="ForeignKeyValidation.SplitShared"/>).
    /// </summary>
    private static async Task RunLocalAsync(RestoreParts parts, string path, int jobs, bool extensions, string work, CancellationToken cancellationToken)
    {
        var whole = await parts.WholeSelectionAsync(work, cancellationToken);
        var extensionRows = extensions && parts.Toc.Any(e => e.Kind == ArchiveToc.TableData);
        var (_, keys, after) = jobs > 1 ? ForeignKeyValidation.SplitShared(parts.Toc) : ([], [], []);
        var apart = keys.Select(k => k.Entry.Id).Concat(after.Select(e => e.Id)).ToHashSet();
        try
        {
            if (!extensionRows && !parts.PreDataInWaves(jobs))
            {
                var list = apart.Count > 0 ? await ListAsync("restored-first.list", parts.Toc) : whole;
                await parts.RunAsync(new PgRestoreCall("") { Archive = path, EntryList = list, Jobs = jobs }, cancellationToken);
            }
            else
            {
                await parts.RunPreDataAsync(path, jobs, work, cancellationToken);
                var skipped = extensionRows ? await parts.SkipUnwritableExtensionRowsAsync(cancellationToken) : new HashSet<int>();
                var rest = skipped.Count > 0 || whole is not null || apart.Count > 0
                    ? await ListAsync("data-and-post-data.list", parts.Toc.Where(e => !skipped.Contains(e.Id)))
                    : null;
                await parts.RunAsync(new PgRestoreCall("data and post-data") { Archive = path, Sections = ArchiveSections.Data | ArchiveSections.PostData, EntryList = rest, Jobs = jobs }, cancellationToken);
            }
        }
        catch (RestorePartFailedException e) when (keys.Count > 0 && e.Part is not "pre-data")
        {
            parts.NotRun("foreign keys", $"the foreign keys to tables several tables reference ({keys.Count}): the {e.Part} failed first");
            throw;
        }

        await parts.ValidateForeignKeysAsync(path, keys, after, jobs, work, cancellationToken);

        async Task<string> ListAsync(string name, IEnumerable<ArchiveEntry> entries)
        {
            var file = Path.Combine(work, name);
            await File.WriteAllLinesAsync(file, entries.Where(e => !apart.Contains(e.Id)).Select(e => e.ListLine), cancellationToken);
            return file;
        }
    }

    /// <param name="Path">The archive's file: a whole local file, or the spool a growing archive is written into.</param>
    private sealed record PreparedArchive(ArchiveContents Contents, PgTool PgRestore, string Path, ArchiveSpool? Spool)
    {
        /// <summary>The bytes of each entry's data (by dump id), where the file's check measured them.</summary>
        public IReadOnlyDictionary<int, long>? DataBytes { get; init; }

        /// <summary>The target server's major version, once it has been asked.</summary>
        public int TargetMajor { get; init; }
    }
}

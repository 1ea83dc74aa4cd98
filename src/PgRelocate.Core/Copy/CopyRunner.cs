using System.Globalization;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Runners;
using PgRelocate.Targets;
using PgRelocate.Tools;

namespace PgRelocate.Copy;

/// <summary>
/// Copies a database directly from a source server to a target server, with no archive in between:
/// schema from pg_dump (restored without owners or grants, harmless errors classified as 'restore' does),
/// rows over parallel binary COPY streams all reading one exported snapshot, each table's indexes built as
/// soon as its rows are in, sequences and large objects from the same snapshot, foreign keys and the rest of
/// post-data at the end. Every check that can refuse the copy runs before the target is touched.
/// </summary>
public sealed class CopyRunner(PgBinaries binaries, IReporter reporter)
{
    /// <exception cref="UsageException">The target is not empty and not confirmed, or is the source itself.</exception>
    /// <exception cref="PgRelocateException">A server is unreachable, an extension is missing, or a step failed.</exception>
    public async Task<CopyResult> RunAsync(CopyOptions options, CancellationToken cancellationToken)
    {
        await using var start = await StartAsync(options, cancellationToken);
        return await FinishAsync(start, cancellationToken);
    }

    /// <summary>
    /// Everything that can refuse the copy, and nothing that writes: the source's role reads every row, the
    /// snapshot opens, the source's schema is dumped (from the moment the snapshot exists) while its tables are
    /// read and the target is checked, and pg_restore's connection is tried. The caller owns what it returns:
    /// <see cref="FinishAsync"/> goes on from it, disposing it leaves both sides as they were.
    /// </summary>
    /// <exception cref="UsageException">The target is not empty and not confirmed, or is the source itself.</exception>
    /// <exception cref="PgRelocateException">A server is unreachable, an extension is missing, or a check failed.</exception>
    public async Task<CopyStart> StartAsync(CopyOptions options, CancellationToken cancellationToken)
    {
        if (options.Jobs < 1 || options.IndexJobs < 1)
        {
            throw new UsageException("--jobs and --index-jobs must be 1 or more.");
        }

        OutputPaths.EnsureWritable(options.LogPath, "--log", createsFolder: true);

        var clock = new StepClock();
        // The installed pg_dump copies are known (each one's --version read) while the snapshot opens: the schema dump
        // needs one next. pg_restore's are read by the connection probe, beside the catalog read; read here too, they
        // held the search's lock while the dump waited for it.
        binaries.ReadAhead("pg_dump");
        var folder = Interrupts.TempFolder("pgrelocate-copy-").FullName;
        var began = clock.Now;
        SourceSnapshot snapshot;
        try
        {
            snapshot = await SourceSnapshot.OpenAsync(options.Source, cancellationToken, options.Snapshot);
        }
        catch
        {
            Interrupts.DeleteTempFolder(folder);
            throw;
        }

        var start = new CopyStart(options, clock, folder, snapshot, new CopyLog(options.LogPath));
        try
        {
            using var dumpCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var dumping = SchemaArchive.DumpAsync(binaries, options.Source, snapshot, folder, start.Log, reporter, dumpCancel.Token);
            // Whether the source's role reads every row, then the roles the source's policies name (which the target
            // must have already without --roles): asked in one session of its own while the schema is dumped, and
            // answered before the catalog is read and the target is touched. One session, not one each: with the
            // snapshot's and pg_dump's, three at most, which a role's connection limit must allow the copy anyway.
            var policies = AskSourceAsync();
            try
            {
                // The refusal first: the catalog's read locks every table, which a table it may not read refuses.
                await policies;
                await snapshot.ReadFactsAsync(cancellationToken);
                // The target is checked in its own session while the snapshot's session reads the source's tables.
                var checking = TargetPreparation.CheckAsync(options.Target, options.Into.Requirements(options.Sessions ?? SessionCount.Copy(options.Jobs, options.IndexJobs)) with
                {
                    Extensions = snapshot.Extensions.Select(e => e.Name).ToList(),
                    ExtensionSchemas = snapshot.Extensions.Select(e => (e.Name, e.Schema)).ToList(),
                    Source = snapshot.Identity,
                    SourceMajor = snapshot.Server.Major,
                    MeasureRoundTrip = true,
                    PolicyRoles = await policies,
                }, cancellationToken);
                // pg_restore must connect as our sessions do, before the target is emptied: tried once the target's
                // version is known, while the source's catalog is still being read.
                var probing = ProbeAsync(checking);
                await Task.WhenAll(checking, snapshot.ReadCatalogAsync(cancellationToken, lockTables: !options.Yields), probing);
                start.Prepared = await checking;
                (start.PgRestoreTool, start.ProbeSkipped) = await probing;

                async Task<(PgTool Tool, string? Skipped)> ProbeAsync(Task<TargetPreparation> target)
                {
                    var tool = binaries.PgRestoreFor(binaries.PgDumpFor(snapshot.Server.Major).Major, (await target).Server.Major);
                    return (tool, (await LibpqProbe.RunAsync(options.Target, "target", tool, cancellationToken)).SkippedBecause);
                }
            }
            catch
            {
                // The refusal (or the failed read) is the error to report; the dump only has to stop.
                await dumpCancel.CancelAsync();
                await dumping.ContinueWith(_ => { }, TaskScheduler.Default);
                throw;
            }

            async Task<List<Catalog.PolicyRole>> AskSourceAsync()
            {
                await using var conn = await Db.OpenAsync(options.Source, "source", SessionOptions.BuiltInTypes, cancellationToken);
                await Catalog.SourceReadability.RefuseUnlessWholeAsync(conn, cancellationToken);
                return options.Roles ? [] : await Catalog.DatabaseAccess.ReadPolicyRolesAsync(conn, cancellationToken);
            }

            start.Schema = await SchemaArchive.ReadAsync(start.PgRestoreTool, await dumping, snapshot, cancellationToken);
            clock.Add("schema", "pg_dump pre-data and post-data", began);
            return start;
        }
        catch
        {
            await start.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Writes the copy <paramref name="start"/> checked: the target emptied (or, resuming, what the interrupted copy
    /// committed kept), the pre-data section, rows and indexes, sequences, post-data. The caller still owns
    /// <paramref name="start"/> and disposes it.
    /// </summary>
    /// <exception cref="PgRelocateException">A server went away or a step failed.</exception>
    public async Task<CopyResult> FinishAsync(CopyStart start, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(start);
        var (options, clock, snapshot) = (start.Options, start.Clock, start.Snapshot);
        var warnings = new List<string>();
        Announce(start);

        // 1. The target: left sessions ended, --roles' roles created, then emptied or, resuming, what the interrupted copy committed kept.
        var (roles, record) = await PrepareTargetAsync(start, warnings, cancellationToken);

        // 2. Tables, types, functions, views: the pre-data section (kept when resuming), then the copy's record.
        var pgRestore = PgRestoreFor(start);
        record = await RestorePreDataAsync(start, pgRestore, record, warnings, cancellationToken);

        // 3. Rows, indexes and large objects, in parallel, from the snapshot.
        var begin = clock.Now;
        var yield = options.Yields ? await CopyYield.StartAsync(options.Source, cancellationToken) : null;
        var foreignKeys = new EarlyForeignKeys(start.Schema.ForeignKeysOfTables, clock, start.Log.Write);
        var data = new DataPhase(options, start.Lanes, snapshot, start.Schema, clock, reporter, foreignKeys, record, yield);
        await using (yield)
        {
            await data.RunAsync(cancellationToken);
        }

        clock.Add("data and indexes", $"{snapshot.Tables.Count} tables", begin, data.Rows, data.Bytes);

        // 4. and 5. Sequences beside post-data (triggers, the rest, then the foreign keys); the record goes once both are in.
        var sequenceCount = await SequencesAndPostDataAsync(start, pgRestore, record, foreignKeys.Done, warnings, cancellationToken);

        // 6. --roles: the source's owners and grants, once every object is in.
        Catalog.AccessApplied? access = null;
        if (options.Roles)
        {
            begin = clock.Now;
            access = await Catalog.TargetAccess.ApplyAsync(options.Source, options.Target, options.RoleRenames, cancellationToken);
            clock.Add("owners and grants", access.ToString(), begin);
        }

        // 7. Written: each step's time in the log, and the result.
        options.Into.Changes.Now(TargetCondition.Written);
        LogSteps(start);
        return new CopyResult(clock.Steps, warnings, clock.Now, snapshot.Tables.Count, data.Rows, data.Bytes, sequenceCount, snapshot.LargeObjects.Count, start.Log.Path) { Roles = roles, Access = access, Yielded = yield?.Yielded ?? [] };
    }

    /// <summary>What is copied, from where to where and how, and the warnings the checks left.</summary>
    private void Announce(CopyStart start)
    {
        var (options, snapshot) = (start.Options, start.Snapshot);
        reporter.Info($"Copying {options.Source.Display} (PostgreSQL {snapshot.Server.Text}, {Units.Bytes(snapshot.SizeBytes)}, {snapshot.Tables.Count} tables, {snapshot.LargeObjects.Count} large objects) into {options.Target.Display} with {options.Jobs} COPY streams and {options.IndexJobs} index builders{(start.Far ? string.Create(CultureInfo.InvariantCulture, $", all at once: a round trip takes {start.RoundTrip.TotalMilliseconds:0.0} ms") : "")}.");
        if (start.ProbeSkipped is { } why)
        {
            reporter.Warn(why + ".");
        }

        start.Prepared.WarnAbout(reporter);
    }

    /// <summary>
    /// Readies the target for writing: the statements a killed run left working ended, the roles created
    /// (--roles), then emptied, or, for a resumed migration whose interrupted copy can go on, that copy's record
    /// (<see cref="ResumeAsync"/>). Returns the roles' outcomes and the record (null: not resuming).
    /// </summary>
    private async Task<(List<Catalog.RoleOutcome> Roles, CopyRecord? Record)> PrepareTargetAsync(CopyStart start, List<string> warnings, CancellationToken cancellationToken)
    {
        var (options, clock) = (start.Options, start.Clock);
        var begin = clock.Now;

        // A killed run of this migration (or of another) may have left a statement working on the target, an index
        // build that goes on and commits: it ends before anything is written, or this run's build of the same collides.
        if (options.Resumable is { } migration)
        {
            await Catalog.LeftSessions.EndAsync(options.Target, migration.Id, options.Into.OwnSessions, options.Into.LockTimeout, reporter, cancellationToken);
        }

        // --roles: the roles exist before the schema names them (policies, grants); refused here, before any change, when the target may not create them.
        var roles = options.Roles ? await Catalog.TargetRoles.CreateAsync(options.Source, options.Target, options.RoleRenames, options.PrivilegedAttributes, cancellationToken) : new List<Catalog.RoleOutcome>();
        warnings.AddRange(roles.Where(r => r.Notable).Select(r => r.ToString()));

        // A resumed migration keeps what its interrupted copy committed; anything else starts over on an emptied target.
        var record = options.Resumable is { Resumed: true } resumable ? await ResumeAsync(options.Target, resumable, start.Snapshot, start.Schema, cancellationToken) : null;
        if (record is null)
        {
            await start.Prepared.EmptyAsync(reporter, cancellationToken);
        }

        options.Into.Changes.Now(TargetCondition.PartlyWritten);
        clock.Add("target", (options.Roles ? "roles created, " : "") + (record is not null ? "what the interrupted copy committed kept" : "emptied"), begin);
        return (roles, record);
    }

    /// <summary>
    /// The pg_restore of the pre-data and post-data sections. Index builds and foreign key checks of the post-data
    /// section run in its sessions too; a foreign key's check is one big join, which spills to disk with the
    /// default work_mem.
    /// </summary>
    private PgRestore PgRestoreFor(CopyStart start) =>
        new(start.PgRestoreTool, start.Options.Target, start.Prepared.Server.Major, start.Log.Write, reporter, "-c work_mem=256MB -c maintenance_work_mem=" + start.Options.MaintenanceWorkMem);

    /// <summary>
    /// Restores the pre-data section in waves over the start's lanes, unless <paramref name="record"/> says the
    /// interrupted copy did; leaves out the extensions' configuration tables the target's role may not write; then,
    /// for a migration starting its copy, begins the record of what it commits. Returns the record (null: none kept).
    /// </summary>
    private async Task<CopyRecord?> RestorePreDataAsync(CopyStart start, PgRestore pgRestore, CopyRecord? record, List<string> warnings, CancellationToken cancellationToken)
    {
        var (options, clock, log, schema) = (start.Options, start.Clock, start.Log, start.Schema);
        var resuming = record is not null;
        var begin = clock.Now;
        if (!resuming)
        {
            reporter.Progress(new ProgressUpdate("schema", 0, 1, "sections"));
            var lanes = start.Lanes;
            var (waves, notes) = await schema.PreDataAsync(options.Target, lanes, cancellationToken);
            foreach (var note in notes)
            {
                log.Write($"# left out: {note.Entry} ({note.Message})");
                warnings.Add(note.ToString());
            }

            var runs = await PreDataWaves.RunAsync(waves, lanes, call => pgRestore.RunStepAsync(call, "pre-data section", log.Path, cancellationToken), pgRestore.Log);
            warnings.AddRange(runs.SelectMany(r => r).Select(w => w.ToString()));
            reporter.Progress(new ProgressUpdate("schema", 1, 1, "sections", Finished: true));
        }

        await LeaveOutUnwritableConfigTablesAsync(options.Target, start.Snapshot, warnings, cancellationToken);
        if (record is null && options.Resumable is { } recorded)
        {
            await using var conn = await Db.OpenAsync(options.Target, "target", cancellationToken);
            record = await CopyRecord.CreateAsync(conn, recorded.Id, schema.Digest, recorded.ReadOnlySince, cancellationToken);
        }

        clock.Add("pre-data", resuming ? "restored by the interrupted copy" : "pg_restore --section=pre-data", begin);
        return record;
    }

    /// <summary>
    /// The sequences (read in the snapshot, which then ends) beside the post-data section, which needs neither: a read in
    /// the snapshot and a session to set them, which the post-data section waited for (70 ms of a copy of 1,000 tables
    /// with a serial key each). The record says its last section began, and goes once both are in. Returns how many sequences.
    /// </summary>
    private async Task<int> SequencesAndPostDataAsync(CopyStart start, PgRestore pgRestore, CopyRecord? record, IReadOnlyList<ValidatedForeignKey> validated, List<string> warnings, CancellationToken cancellationToken)
    {
        var (options, clock, schema) = (start.Options, start.Clock, start.Schema);
        var sequenceWarnings = new List<string>();
        var sequencing = SyncSequencesAsync(options, start.Snapshot, clock, sequenceWarnings, cancellationToken);
        if (start.PostDataJobs + 1 > options.Jobs + options.IndexJobs)
        {
            // Far, post-data's runs take every session the target's check counted: the sequences' session goes first.
            await sequencing;
        }

        try
        {
            // Foreign keys, triggers, partitioned parents' indexes, materialized views.
            if (record is not null)
            {
                await using var conn = await Db.OpenAsync(options.Target, "target", cancellationToken);
                await CopyRecord.LastSectionAsync(conn, cancellationToken);
                options.Milestone?.Invoke("last-section");
            }

            if (schema.RestCount > 0)
            {
                var begin = clock.Now;
                reporter.Progress(new ProgressUpdate("post-data", 0, 1, "sections"));
                var selection = new PgRestoreCall("post-data") { Archive = schema.Path, Sections = ArchiveSections.PostData, EntryList = schema.RestListPath, Jobs = start.PostDataJobs };
                warnings.AddRange((await pgRestore.RunStepAsync(selection, "post-data section", start.Log.Path, cancellationToken)).Select(w => w.ToString()));
                reporter.Progress(new ProgressUpdate("post-data", 1, 1, "sections", Finished: true));
                clock.Add("post-data", "triggers, partitioned indexes, the rest", begin);
            }

            await CopyForeignKeys.RunAsync(start, pgRestore, reporter, validated, warnings, cancellationToken);
        }
        catch
        {
            // The post-data section's failure is the copy's; the sequences' session must not outlive it.
            await sequencing.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            throw;
        }

        var sequenceCount = await sequencing;
        warnings.AddRange(sequenceWarnings);
        if (record is not null)
        {
            await using var conn = await Db.OpenAsync(options.Target, "target", cancellationToken);
            await CopyRecord.RemoveAsync(conn, cancellationToken);
        }

        return sequenceCount;
    }

    /// <summary>Each step's start and duration (and rows) as comment lines of the copy's log.</summary>
    private static void LogSteps(CopyStart start)
    {
        foreach (var step in start.Clock.Steps)
        {
            start.Log.Write(string.Create(CultureInfo.InvariantCulture, $"# step {step.Step}: {step.Object}, +{step.Start.TotalSeconds:F1}s, {step.Duration.TotalSeconds:F2}s{(step.Rows is { } rows ? $", {rows} rows" : "")}"));
        }
    }

    /// <summary>
    /// What the interrupted copy of a resumed migration committed, when the copy can go on from it: its record on
    /// the target is of this migration, in its data phase, for this very schema, and every table it copies is
    /// there. Null, said as a warning, when it cannot (the copy then starts over, emptying the target). The copy
    /// is consistent only when the source stayed read-only since it began: otherwise it goes on only with
    /// <see cref="ResumableCopy.NotConsistent"/>.
    /// </summary>
    /// <exception cref="UsageException">It could go on, but not consistently, and that was not accepted.</exception>
    private async Task<CopyRecord?> ResumeAsync(PgConnectionInfo target, ResumableCopy resumable, SourceSnapshot snapshot, SchemaArchive schema, CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        var (record, why) = await CopyRecord.ReadAsync(conn, resumable.Id, schema.Digest, cancellationToken);
        if (record is not null)
        {
            var names = string.Join(", ", snapshot.Tables.Select(t => Db.Literal(t.Qualified)));
            var missing = snapshot.Tables.Count == 0 ? [] : await Db.ListAsync(conn, $"SELECT t FROM unnest(ARRAY[{names}]::text[]) t WHERE to_regclass(t) IS NULL", r => r.GetString(0), cancellationToken);
            if (missing.Count > 0)
            {
                (record, why) = (null, $"the target lacks {missing.Count} of the tables it had created ({Sentences.FirstFew(missing, 3)})");
            }
        }

        if (record is null)
        {
            reporter.Warn($"Starting the copy over, replacing what the target holds: {why}.");
            return null;
        }

        if (record.ReadOnlySince is null || record.ReadOnlySince != resumable.ReadOnlySince)
        {
            var cause = record.ReadOnlySince is null ? "the source was not read-only when the copy began (--read-only-source)" : "the source was made writable again since the copy began";
            if (!resumable.NotConsistent)
            {
                throw new UsageException($"The interrupted copy can go on, but {cause}: the rows it committed and the rest would be read at different moments, from a new snapshot. Pass --not-consistent to keep them anyway (the verify step then compares every row), or start a new migration. Nothing was changed.");
            }

            reporter.Warn($"Going on with the interrupted copy although {cause} (--not-consistent): rows written on the source since are caught by the verify step.");
        }

        // An index or constraint the record does not name but the target holds as the copy would build it is kept too.
        var found = await BuiltIndexes.ReadAsync(conn, snapshot.Tables, schema, record.Done, cancellationToken);
        record.Found(found);
        var rows = record.Done.Count(i => i.StartsWith("rows ", StringComparison.Ordinal));
        var unrecorded = found.Count > 0 ? $" ({found.Count} of them found built on the target, not in its record: {Sentences.FirstFew(found, 3)})" : "";
        reporter.Info($"Resuming the interrupted copy: {rows} tables or ranges of rows and {record.Done.Count - rows} index builds, constraints and analyses are in and kept{unrecorded}; the rest is copied from a new snapshot.");
        return record;
    }

    /// <summary>
    /// The rows the source added to its extensions' configuration tables (a user's SRID) are copied where the
    /// target's login role may write them; elsewhere they are left out and named as a warning, as a restore does.
    /// </summary>
    private static async Task LeaveOutUnwritableConfigTablesAsync(PgConnectionInfo target, SourceSnapshot snapshot, List<string> warnings, CancellationToken cancellationToken)
    {
        var config = snapshot.Tables.Where(t => t.ConfigCondition is not null).ToList();
        if (config.Count == 0)
        {
            return;
        }

        var unwritable = new HashSet<uint>();
        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        foreach (var t in config)
        {
            var sql = $"SELECT coalesce((SELECT has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'DELETE') FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {Db.Literal(t.Schema)} AND c.relname = {Db.Literal(t.Name)}), false)";
            if (await Db.ScalarAsync<bool>(conn, sql, cancellationToken))
            {
                continue;
            }

            unwritable.Add(t.Oid);
            warnings.Add($"TABLE DATA {t.Display}: rows not copied: it is a configuration table of an extension, and the login role may not write it on the target (the rows the extension installs itself are there; rows added on the source are not)");
        }

        snapshot.LeaveOut(unwritable);
    }

    /// <summary>The source's sequences' values, read in the snapshot and set on the target; then the snapshot's transaction ends. Returns how many.</summary>
    private static async Task<int> SyncSequencesAsync(CopyOptions options, SourceSnapshot snapshot, StepClock clock, List<string> warnings, CancellationToken cancellationToken)
    {
        var begin = clock.Now;
        var sequences = await snapshot.ReadSequencesAsync(cancellationToken);
        await SetSequencesAsync(options, sequences, warnings, cancellationToken);
        await snapshot.CloseAsync(cancellationToken);
        clock.Add("sequences", $"{sequences.Count} sequences", begin);
        return sequences.Count;
    }

    private static async Task SetSequencesAsync(CopyOptions options, IReadOnlyList<SequenceValue> sequences, List<string> warnings, CancellationToken cancellationToken)
    {
        if (sequences.Count == 0)
        {
            return;
        }

        await using var conn = await CopySessions.OpenWriterAsync(options, cancellationToken);
        if (await SequenceSync.SetAsync(conn, sequences, cancellationToken) is { Count: > 0 } missing)
        {
            warnings.Add(SequenceSync.MissingWarning(missing));
        }
    }
}

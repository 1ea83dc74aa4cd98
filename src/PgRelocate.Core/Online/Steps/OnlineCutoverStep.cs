using PgRelocate.Online.Follow;
using System.Globalization;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;
using PgRelocate.Verify;

namespace PgRelocate.Online.Steps;

/// <summary>
/// The switch, run once the source is read-only (the read-only step before it ended its sessions): the
/// source's last changes applied, sequences set to the source's values, changed large objects and extension
/// configuration rows copied again, a final count of the tables the follow changed, the target's triggers
/// re-enabled and the tool's schema removed; then the switch (<see cref="MigrationJournal.SwitchedAt"/>), and the slot and
/// publication removed. The write downtime is measured from the moment the source became read-only to the switch.
/// </summary>
public sealed class OnlineCutoverStep : IMigrationStep
{
    public const string StepName = "cutover";

    /// <summary>Behind PgBouncer: how long the application's queries waited there (from PAUSE to RESUME).</summary>
    public static readonly JournalKey<TimeSpan?> ApplicationPause = JournalKey.Seconds("applicationPauseSeconds");

    /// <summary>How long the source refused writes: from the read-only step's start to the target's taking over.</summary>
    public static readonly JournalKey<TimeSpan?> WriteDowntime = JournalKey.Seconds("writeDowntimeSeconds");

    /// <summary>The part of the downtime spent applying the source's last changes.</summary>
    public static readonly JournalKey<TimeSpan?> CatchUp = JournalKey.Seconds("catchUpSeconds");

    /// <summary>The tables the follow changed (quoted names), in the follow's record and the cutover's.</summary>
    public static readonly JournalKey<IReadOnlyList<string>> ChangedTables = JournalKey.Lines("changedTables");

    /// <summary>The transactions applied, in the follow's record and the cutover's.</summary>
    public static readonly JournalKey<long?> Transactions = JournalKey.Count("transactions");

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var readOnly = context.Journal.Step(ReadOnlySourceStep.StepName);
        var readOnlyAt = readOnly.Get(ReadOnlySourceStep.RefusedAt) ?? readOnly.StartedAt ?? DateTimeOffset.UtcNow;
        var copy = context.Journal.Step(SnapshotCopyStep.StepName);
        var slot = copy.Get(SnapshotCopyStep.Slot);
        if (context.Journal.SwitchedAt is not null)
        {
            // A run again after a stop past the switch: only the slot and publication may be left to remove.
            var gone = slot is null || await RemoveSlotAsync(context, slot, cancellationToken);
            context.Record.Summary ??= $"switched; slot and publication {(gone ? "removed" : "still on the source")}";
            return;
        }

        var phases = new DowntimePhases(readOnlyAt);
        phases.Lap(DowntimePhases.ReadOnly);

        // One session on each side for the whole switch, opened before it: every phase below is downtime. With a way
        // back, its capture step goes on with them (behind PgBouncer the application still waits).
        var sessions = context.TakeHandOff<SwitchSessions>() ?? await SwitchSessions.OpenAsync(context, cancellationToken);
        await using var atEnd = new SwitchSessions.HandedOnOrClosed(sessions, context);
        var (source, target) = (sessions.Source, sessions.Target);
        // Behind PgBouncer, the console's logins for its RELOAD and RESUME at the end are made while the phases below run.
        await using var console = options.PgBouncer is not null && !options.Fallback ? PgBouncerSwitch.LogIn(context) : null;

        // 1. Everything the source committed before it became read-only. The follow step's follow when this process
        // ran it, applying since (see FollowGoingOn), else a new one from the position stored in the target. Closed
        // before the slot is dropped below: an open session keeps it active.
        var applied = await MarkLastChangeAsync(source, context.Reporter, cancellationToken);
        await using var going = context.TakeHandOff<FollowGoingOn>();
        await using var follower = going?.Follower ?? FollowerFor(context, OnlinePhases.Cutover);
        var ahead = SwitchReadsAhead.ReadAsync(source, cancellationToken);
        var (changesBefore, transactionsBefore, settled, (changed, counted), reads) = await CatchUpAsync(context, follower, going, applied, ahead, (source, target), phases, cancellationToken);
        await using var unchanged = settled;

        await CarrySchemaObjectsAsync(context, target, unchanged, cancellationToken);
        phases.Lap("schema objects");

        // 2. Sequences, large objects and the extensions' configuration rows, which logical decoding does not carry.
        var carried = await CopyWhatDecodingMissesAsync(context, reads, source, target, phases, cancellationToken);

        // 3. The target as the applications will use it: triggers on, no trace of the tool.
        var identity = SnapshotCopyStep.IdentityTables(copy);
        await TargetState.RemoveAtSwitchAsync(target, identity, cancellationToken);
        phases.Lap("triggers and the tool's schema");

        // 4. The target takes over: the application behind PgBouncer goes on, and the status says switched. The write
        // downtime ends here; nothing after this undoes the switch (the source stays read-only whatever follows).
        await ResumeApplicationAsync(context, phases, console, cancellationToken);
        var downtime = DateTimeOffset.UtcNow - readOnlyAt;
        context.Journal.SwitchedAt = DateTimeOffset.UtcNow;
        context.Journal.Save();
        new OnlineStatus { Phase = OnlinePhases.Switched }.Write(context.Folder);

        // 5. After the switch, outside the downtime: the follow's sessions close (an open one keeps the slot active),
        // and the slot and publication leave the source; with a way back, once its capture is in place (behind
        // PgBouncer the application waits until then).
        await follower.DisposeAsync();
        bool? removed = options.Fallback ? null : await RemoveSlotAsync(context, slot!, cancellationToken);
        phases.Lap(options.Fallback ? AfterSwitchWithWayBack : AfterSwitch);

        // 6. The downtime and where it went, in the record and the report.
        RecordDowntime(context, follower, downtime, phases, transactionsBefore, follower.Changes - changesBefore, carried, changed.Count, counted, removed);
    }

    /// <summary>The last phase the report lists, timed after the write downtime ended.</summary>
    internal const string AfterSwitch = "follow's sessions closed, slot and publication removed (after the switch)";

    /// <summary>The last phase with a way back, whose capture step removes the slot and publication once it is in place.</summary>
    internal const string AfterSwitchWithWayBack = "follow's sessions closed (after the switch)";

    /// <summary>
    /// Removes the slot and publication from the read-only source; true when they are gone. A failure is a warning:
    /// the target has taken over, and the migration's end (or <c>cancel --source</c>) tries again.
    /// </summary>
    internal static async Task<bool> RemoveSlotAsync(MigrationContext context, string slot, CancellationToken cancellationToken)
    {
        try
        {
            await SnapshotCopyStep.RemoveFromSourceAsync(context, slot, cancellationToken);
            context.Journal.Save();
            return true;
        }
        catch (Exception e) when (Failures.Operational(e) is { } failure)
        {
            context.Reporter.Warn($"The replication slot and publication {slot} are still on the source ({failure.Message}): the end of the migration tries again; else run 'pgrelocate cancel {context.Journal.Id} --source URL'.");
            return false;
        }
    }

    /// <summary>What the cutover copied again besides the stream's changes, for its summary.</summary>
    private sealed record CopiedAgain(int Sequences, int LargeObjects, int ConfigurationTables, int UnloggedTables);

    /// <summary>
    /// From PostgreSQL 14 a marker written into the source's WAL now says exactly when everything committed before
    /// now (at the cutover: before the source became read-only) is applied: it is decoded after every transaction
    /// committed before it. Before 14, the follow waits until it has received past the source's position and nothing
    /// more comes.
    /// </summary>
    internal static async Task<Func<FollowPoint, bool>> MarkLastChangeAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(context.Options.Source, "source", cancellationToken);
        return await MarkLastChangeAsync(conn, context.Reporter, cancellationToken);
    }

    /// <summary>
    /// Applies the source's last changes, checks the row counts of the tables the follow changed
    /// (<see cref="SwitchRowCounts"/>, on the switch's sessions, while the fingerprints are read again on the sessions
    /// of the pass before the switch: each waits on its servers more than it works, and the downtime is the longer of
    /// the two, not their sum), then the columns' attributes; and records the follower's lag (it is closed after the switch).
    /// </summary>
    /// <returns>
    /// The changes and transactions the follower had applied before, what the pass when the cutover was asked
    /// settled if neither side's schema changed since (the caller's to dispose; see <see cref="SettledSchema.StillAsync"/>),
    /// and the tables the follow changed with how many were counted.
    /// </returns>
    /// <param name="going">The follow step's follow, going on since (see <see cref="FollowGoingOn"/>); null: a new one.</param>
    /// <param name="ahead">The reads of the source running on the switch's source session meanwhile (<see cref="SwitchReadsAhead"/>).</param>
    /// <param name="sessions">The switch's sessions, which nothing else uses until the schema objects (the source's once <paramref name="ahead"/> is done).</param>
    private static async Task<(long Changes, long Transactions, SettledSchema? Settled, (List<string> Changed, int Counted) Counts, SwitchReadsAhead Reads)> CatchUpAsync(
        MigrationContext context, Follower follower, FollowGoingOn? going, Func<FollowPoint, bool> applied, Task<SwitchReadsAhead> ahead, (NpgsqlConnection Source, NpgsqlConnection Target) sessions, DowntimePhases phases, CancellationToken cancellationToken)
    {
        var before = going?.From ?? (follower.Changes, follower.Transactions);
        try
        {
            try
            {
                await (going is null ? follower.RunAsync(applied, cancellationToken) : going.UntilAsync(applied, cancellationToken));
            }
            catch
            {
                // The reads ahead hold the source's session, which the caller closes: never with a statement of theirs running.
                await Task.WhenAny(ahead);
                throw;
            }

            phases.Lap(DowntimePhases.LastChanges);
            if (!ahead.IsCompleted)
            {
                await ahead;
                phases.Lap(ReadsAheadPhase);
            }

            var reads = await ahead;
            var counting = SwitchRowCounts.CheckAsync(follower, sessions.Source, sessions.Target, cancellationToken);
            SettledSchema? settled = null;
            try
            {
                settled = await SettledSchema.StillAsync(context, cancellationToken);
                phases.Lap(FingerprintsPhase);
                var counts = await counting;
                phases.Lap(RowCountsPhase);
                // Defaults, NOT NULLs and generated columns, which the stream does not show: exact now the source is read-only,
                // unless the pass before the switch found them all the source's and neither side's schema changed since.
                // After the counts: they change tables on the target, which the counts' statements lock many at once.
                if (settled is not { ColumnsSame: true })
                {
                    await follower.Carry.ColumnAttributesAsync(cancellationToken);
                }

                phases.Lap("columns' defaults and NOT NULLs");
                return (before.Changes, before.Transactions, settled, counts, reads);
            }
            catch
            {
                // The counts' sessions are the caller's to close: never left with a statement of theirs running.
                await Task.WhenAny(counting);
                if (settled is not null)
                {
                    await settled.DisposeAsync();
                }

                throw;
            }
        }
        finally
        {
            RecordLag(context, follower, "Lag during the cutover");
        }
    }

    /// <summary>The downtime's phase of the reads ahead (<see cref="SwitchReadsAhead"/>) when they outlast the last changes, which they run beside.</summary>
    internal const string ReadsAheadPhase = "source's sequences, configuration and unlogged tables (their part after the last changes)";

    /// <summary>The downtime's phase of both fingerprints read again (when the pass before the switch handed them on).</summary>
    internal const string FingerprintsPhase = "schema fingerprints read again";

    /// <summary>The downtime's phase of the row counts that outlast <see cref="FingerprintsPhase"/>, which they run beside.</summary>
    internal const string RowCountsPhase = "row counts (their part after the fingerprints)";

    /// <summary>
    /// The objects other than tables and columns, none of which the stream carries: exact now, before the sequences.
    /// Every change is applied: the target's triggers are on again first, so that the comparison meets them as the
    /// source has them (pg_dump writes a disabled trigger as changed, which the pass would make again).
    /// </summary>
    private static async Task CarrySchemaObjectsAsync(MigrationContext context, NpgsqlConnection target, SettledSchema? unchanged, CancellationToken cancellationToken)
    {
        // The tool's schema is there: the follow has just applied the last changes into it.
        await TargetState.EnableAsync(target, cancellationToken, there: true);
        await SchemaObjects.AtSwitchAsync(context, unchanged, cancellationToken);
        if (unchanged is null)
        {
            // Only a pass that compared with pg_dump may have changed a trigger's mode: unchanged, the triggers are as
            // the record says once enabled again (the pass before the switch settled only where they come back plain).
            await TargetState.RecordModesAsync(target, cancellationToken, there: true);
        }
    }

    /// <summary>
    /// Sequences, large objects, the extensions' configuration rows and the unlogged tables, each a phase of the
    /// downtime; what of them the source says was read ahead (<paramref name="reads"/>).
    /// </summary>
    private static async Task<CopiedAgain> CopyWhatDecodingMissesAsync(MigrationContext context, SwitchReadsAhead reads, NpgsqlConnection source, NpgsqlConnection target, DowntimePhases phases, CancellationToken cancellationToken)
    {
        var missingSequences = await SequenceSync.SetAsync(target, reads.Sequences, cancellationToken);
        if (missingSequences.Count > 0)
        {
            context.Reporter.Warn(SequenceSync.MissingWarning(missingSequences));
        }

        phases.Lap("sequences");
        var largeObjects = await LargeObjectsAgain.CopyChangedAsync(source, target, cancellationToken);
        phases.Lap("large objects");
        var configuration = await ConfigurationRows.CopyChangedAsync(reads.ConfigurationTables, source, target, context.Reporter, cancellationToken);
        phases.Lap("extensions' configuration rows");
        var unlogged = await CopyUnloggedAgainAsync(context, reads.UnloggedTables, source, target, phases, cancellationToken);

        return new CopiedAgain(reads.Sequences.Count, largeObjects, configuration.Count, unlogged.Count);
    }

    /// <summary>
    /// Behind PgBouncer the application waits from PAUSE on: it goes on as soon as the target is as it will use it;
    /// the slot and publication are removed from the read-only source after. With --fallback it waits until the way
    /// back's capture is on the target too (the next step turns the entry): what it writes first must reach the old source.
    /// </summary>
    private static async Task ResumeApplicationAsync(MigrationContext context, DowntimePhases phases, SwitchLogins? console, CancellationToken cancellationToken)
    {
        var options = context.Options;
        if (options.PgBouncer is not null && options.Fallback)
        {
            context.Reporter.Info("PgBouncer stays paused until the way back's capture is on the target.");
        }
        else if (options.PgBouncer is not null)
        {
            var paused = await PgBouncerSwitch.SwitchAsync(context, cancellationToken, console);
            context.Record.Set(ApplicationPause, paused);
            phases.Lap("PgBouncer: entry repointed, RELOAD, RESUME");
        }
    }

    /// <summary>Records the write downtime, its phases and the follow's changes, and says them in the step's summary.</summary>
    private static void RecordDowntime(MigrationContext context, Follower follower, TimeSpan downtime, DowntimePhases phases, long transactionsBefore, long lastChanges, CopiedAgain carried, int changed, int counted, bool? slotRemoved)
    {
        Record(context, follower, transactionsBefore);
        context.Record.Set(WriteDowntime, downtime);
        if (context.Journal.Estimate is { } estimate)
        {
            estimate.Actual.OnlineDowntimeSeconds = downtime.TotalSeconds;
        }

        context.Record.Set(CatchUp, TimeSpan.FromSeconds(phases.Seconds(DowntimePhases.ReadOnly) + phases.Seconds(DowntimePhases.LastChanges)));
        context.Record.Tables.Add(new ReportTable(
            "Where the write downtime went",
            ["phase", "seconds"],
            phases.Laps.Select(l => (IReadOnlyList<string>)[l.Name, l.Seconds.ToString("0.000", CultureInfo.InvariantCulture)]).ToList(),
            "The downtime is the sum of the rows before the last, which comes after the switch."));
        var uncounted = changed - counted;
        context.Record.Summary = $"write downtime {downtime.TotalSeconds:0.0}s: {lastChanges} last changes applied, {carried.Sequences} sequences set, {carried.LargeObjects} large objects copied again, {carried.ConfigurationTables} extension configuration tables' rows copied again, {(carried.UnloggedTables > 0 ? $"{carried.UnloggedTables} unlogged tables copied again and verified identical, " : "")}{counted} changed tables counted{(uncounted > 0 ? $" ({uncounted} larger {Sentences.Plural(uncounted, "one")} left to the verification while following)" : "")}; slot and publication {slotRemoved switch { true => "removed after the switch", false => "still on the source", null => "removed once the way back's capture is in place" }}";
        context.Reporter.Info($"Cutover done: the source was read-only for {downtime.TotalSeconds:0.0}s.");
        if (context.Record.Get(ApplicationPause) is { } pause)
        {
            context.Record.Summary += $"; behind PgBouncer, the application's queries waited {pause.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)}s there";
        }
    }

    /// <summary>
    /// The unlogged tables, whose changes are not in the WAL: emptied on the target and copied again from the
    /// read-only source (the copy's own machinery), then compared row by row with it.
    /// </summary>
    /// <returns>The tables copied again ("schema.table").</returns>
    private static async Task<IReadOnlyList<string>> CopyUnloggedAgainAsync(MigrationContext context, IReadOnlyList<string> unlogged, NpgsqlConnection source, NpgsqlConnection target, DowntimePhases phases, CancellationToken cancellationToken)
    {
        if (unlogged.Count == 0)
        {
            return [];
        }

        var (copied, rows, bytes) = await TablesAgain.CopyAsync(source, target, unlogged, context.Reporter, cancellationToken);
        context.Reporter.Info($"Unlogged tables copied again: {string.Join(", ", copied)} ({rows} rows, {Units.Bytes(bytes)}).");
        phases.Lap("unlogged tables copied again");
        var options = context.Options;
        var result = await Verifier.RunAsync(
            new VerifyOptions { Source = options.Source, Target = options.Into.Connection, Mode = VerifyMode.Checksums, OnlyTables = copied, Jobs = Math.Max(1, options.Into.Jobs) },
            context.Reporter,
            cancellationToken);
        foreach (var table in VerifyStep.Tables(result))
        {
            context.Record.Tables.Add(table with { Title = table.Title + " (unlogged tables, at the cutover)" });
        }

        var differing = result.Tables.Where(t => !t.Equal).Select(t => t.Name).Concat(copied.Except(result.Tables.Select(t => t.Name), StringComparer.Ordinal)).ToList();
        if (differing.Count > 0)
        {
            throw new PgRelocateException($"The unlogged tables copied again at the cutover differ from the source's: {string.Join(", ", differing)}. The target is not switched; the source is made writable again ('pgrelocate info {context.Journal.Id}' lists the rows).", ExitCode.Differences);
        }

        phases.Lap("unlogged tables compared");
        return copied;
    }

    /// <summary>
    /// What says that everything the source committed before now is applied: a marker written into its WAL
    /// (PostgreSQL 14 on, and a role allowed to write one), else having received past its current position
    /// with nothing more coming.
    /// </summary>
    internal static async Task<Func<FollowPoint, bool>> MarkLastChangeAsync(Npgsql.NpgsqlConnection source, IReporter reporter, CancellationToken cancellationToken)
    {
        var marker = Guid.NewGuid().ToString("N");
        if (await SourceSide.TryMarkAsync(source, marker, cancellationToken))
        {
            return p => p.Marker == marker;
        }

        reporter.Debug("No marker in the source's WAL (before PostgreSQL 14, or a role that may not write one): waiting for the source's position instead.");
        var final = NpgsqlTypes.NpgsqlLogSequenceNumber.Parse(await Db.ScalarAsync<string>(source, "SELECT pg_catalog.pg_current_wal_lsn()::text", cancellationToken) ?? "0/0");
        return p => p.CaughtUp && p.Received >= final;
    }

    /// <summary>A follower for this migration's slot, stopping when the slot holds more WAL than allowed.</summary>
    internal static Follower FollowerFor(MigrationContext context, string phase)
    {
        var copy = context.Journal.Step(SnapshotCopyStep.StepName);
        return new Follower(context.Options.Source, context.Options.Into.Connection, copy.Get(SnapshotCopyStep.Slot)!, copy.Get(SnapshotCopyStep.Publication)!, context.Folder, context.Reporter)
        {
            Phase = phase,
            MaxRetainedBytes = context.Options.MaxRetainedWal,
            CarrySchemaChanges = context.Options.CarrySchemaChanges,
            Lanes = context.Options.Into.Jobs,
            // The migration's own: making the source read-only leaves them be, the follow going on (see FollowGoingOn).
            SourceSessions = HeldMigrationLock.ApplicationName(context.Journal.Id, "follow"),
        };
    }

    /// <summary>Keeps the follow's changed tables and transactions in the step's record, for the final check.</summary>
    /// <param name="transactionsBefore">Transactions the follower had applied before this step (one follower serves the follow and the cutover).</param>
    internal static void Record(MigrationContext context, Follower follower, long transactionsBefore = 0)
    {
        context.Record.Set(ChangedTables, [.. follower.ChangedTables.Order(StringComparer.Ordinal)]);
        context.Record.Set(Transactions, follower.Transactions - transactionsBefore);
    }

    /// <summary>Rows of the compact lag table: the chart in the HTML report shows every sample.</summary>
    internal const int LagTableRows = 20;

    /// <summary>
    /// Keeps the follow's lag samples in the step's record for the report's chart, and a compact table of them
    /// (at most <see cref="LagTableRows"/> rows, each the worst lag of the samples it merges) for every format.
    /// </summary>
    internal static void RecordLag(MigrationContext context, Follower follower, string title)
    {
        var samples = follower.History;
        if (samples.Count == 0)
        {
            return;
        }

        context.Record.Lag = [.. samples];
        context.Record.Tables.Add(new ReportTable(
            title,
            ["from", "phase", "worst lag", "worst lag (s)", "changes/s"],
            LagHistory.Downsample(samples, LagTableRows).Select(h => (IReadOnlyList<string>)
            [
                h.At.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                h.Phase,
                Units.Bytes(h.LagBytes),
                h.LagSeconds.ToString("0.0", CultureInfo.InvariantCulture),
                h.ChangesPerSecond.ToString("0", CultureInfo.InvariantCulture),
            ]).ToList(),
            samples.Count > LagTableRows ? $"{samples.Count} samples merged into {LagTableRows} rows at most: each row shows the worst lag of its samples and their mean apply rate." : null));
    }
}

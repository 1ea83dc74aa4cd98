using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using NpgsqlTypes;
using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Online.Apply;
using PgRelocate.Online.Follow;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Online.Steps;

/// <summary>
/// The start of an online migration: the publication (with REPLICA IDENTITY FULL on tables without a key when
/// asked), then a replication slot created with an exported snapshot over a replication connection that stays
/// open, idle, while the direct copy reads that very snapshot. Every change after it is in the slot. Then the
/// target gets the tool's schema with the slot's starting position, and its user triggers are disabled.
/// Undone (slot, publication, replica identity, the target's schema) whenever the migration ends; after a
/// failure the step is marked to run again, since the slot it made is gone.
/// </summary>
internal sealed class SnapshotCopyStep : ICompensatingStep
{
    public const string StepName = "snapshot copy";

    /// <summary>The replication slot, named after the migration.</summary>
    public static readonly JournalKey<string> Slot = JournalKey.Text("slot");

    public static readonly JournalKey<string> Publication = JournalKey.Text("publication");

    /// <summary>The slot's consistent point, where the follow starts.</summary>
    public static readonly JournalKey<NpgsqlLogSequenceNumber?> StartLsn =
        JournalKey.Of<NpgsqlLogSequenceNumber?>("startLsn", v => v!.Value.ToString(), t => NpgsqlLogSequenceNumber.TryParse(t, out var lsn) ? lsn : null);

    /// <summary>The tables this migration set REPLICA IDENTITY FULL on (quoted names).</summary>
    public static readonly JournalKey<IReadOnlyList<string>> ReplicaIdentityFull = JournalKey.Lines("replicaIdentityFull");

    public static readonly JournalKey<long?> Rows = JournalKey.Count("rows");

    public static readonly JournalKey<long?> Tables = JournalKey.Count("tables");

    /// <summary>
    /// What happened to each table the copy gave up to the application (a line each: "app.t was truncated during the
    /// copy: copied again after it"); the follow copies them again at a marker.
    /// </summary>
    public static readonly JournalKey<IReadOnlyList<string>> Yielded = JournalKey.Lines("yielded");

    public string Name => StepName;

    public EstimatedPart? Estimated => EstimatedPart.Copy;

    public string? SkipReason(MigrationOptions options) => null;

    public bool KeepOnSuccess(MigrationOptions options) => false;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var slot = OnlineNames.Slot(context.Journal.Id);
        var publication = OnlineNames.Publication(context.Journal.Id);
        var record = context.Record;

        // What an interrupted attempt left: its slot and publication (the copy below replaces the target).
        if (record.Has(StartLsn))
        {
            context.Reporter.Warn(ResumeMessage);
        }

        await SourceSide.RemoveAsync(options.Source, slot, publication, IdentityTables(record), cancellationToken);
        record.ClearOutputs();

        IReadOnlyList<PublishedTable> tables;
        bool yields;
        await using (var conn = await Db.OpenAsync(options.Source, "source", cancellationToken))
        {
            tables = await SourceSide.TablesAsync(conn, cancellationToken);
            // The copy gives tables up to the application only where the follow can copy them again at a marker.
            yields = options.CarrySchemaChanges && conn.PostgreSqlVersion.Major >= 14;
            var noIdentity = await SourceSide.NoIdentityTablesAsync(conn, cancellationToken);
            if (noIdentity.Count > 0)
            {
                if (!options.ReplicaIdentityFull)
                {
                    throw new PgRelocateException($"Tables without a primary key or replica identity: {string.Join(", ", noIdentity)}. Once published, UPDATE and DELETE on them would fail on the source: add primary keys, or pass --replica-identity-full. Nothing was changed.", ExitCode.Differences);
                }

                // Recorded first, so that an interruption right after still undoes it.
                record.Set(ReplicaIdentityFull, noIdentity);
                context.Journal.Save();
                await SourceSide.SetReplicaIdentityFullAsync(conn, noIdentity, cancellationToken);
            }

            record.Set(Slot, slot);
            record.Set(Publication, publication);
            context.Journal.Save();
            await SourceSide.CreatePublicationAsync(conn, publication, tables, cancellationToken);
            if (yields)
            {
                // Before the snapshot: a table renamed after it is known by the name the copy gives it on the target.
                await CarriedNames.NoteAtCopyAsync(conn, publication, context.Folder, cancellationToken);
            }
        }

        await using var replication = await Db.OpenReplicationAsync(options.Source, "source", "pgrelocate online", cancellationToken);
        PgOutputReplicationSlot created;
        try
        {
            created = await replication.CreatePgOutputReplicationSlot(slot, temporarySlot: false, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken);
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new PgRelocateException($"The source refused the replication slot: {e.MessageText}. Give the source's role the REPLICATION attribute (or the provider's replication role); 'pgrelocate check --online' names the fix.", ExitCode.Failed, e);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw Db.Describe(e, options.Source, "source");
        }

        var start = created.ConsistentPoint;
        record.Set(StartLsn, start);
        context.Journal.Save();
        context.Reporter.Info($"Replication slot {slot} created at {start}; copying its snapshot {created.SnapshotName}.");

        // Once every row is in, the first verification's snapshot (see FirstVerificationSnapshot), for the follow step.
        FirstVerificationSnapshot? first = null;
        void Milestone(string point)
        {
            if (point == CopyOptions.RowsIn && first is null)
            {
                first = FirstVerificationSnapshot.Begin(options.Source, slot, () => CutoverRequest.IsRequested(context.Folder), context.Reporter, cancellationToken);
            }
        }

        CopyResult result;
        IReadOnlyList<string> yielded;
        try
        {
            result = await new CopyRunner(context.Binaries, context.Reporter).RunAsync(DirectCopyStep.CopyOptionsFor(context, created.SnapshotName) with
            {
                Yields = yields,
                // Checked again before the target is emptied: the follow's sessions, not the copy's alone (see OnlineCheckStep).
                Sessions = OnlineSessions.OnTarget(options.Into.Jobs, options.Source, options.Into.Connection),
                Milestone = Milestone,
            }, cancellationToken);
            yielded = await YieldedAsync(context, result.Yielded, cancellationToken);
        }
        catch
        {
            await DisposeAsync(first);
            throw;
        }

        // A table given up is copied again at a marker after the snapshot's position, where the comparison would miss its rows.
        if (yielded.Count > 0)
        {
            await DisposeAsync(first);
        }
        else if (first is not null)
        {
            context.HandOff(first);
        }

        await using (var target = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken))
        {
            // The copy carried the source's publication along with the schema: it has no use on the target.
            await TargetState.DropPublicationAsync(target, publication, cancellationToken);
            await TargetState.CreateAsync(target, slot, start, cancellationToken);
        }

        record.Set(Rows, result.Rows);
        record.Set(Tables, tables.Count);
        record.Summary = $"slot {slot} at {start}; {result.Tables} tables, {result.Rows} rows, {Units.Bytes(result.Bytes)}, {result.LargeObjects} large objects copied from its snapshot in {Units.Duration(result.Duration)}"
            + (yielded.Count > 0 ? "; " + string.Join("; ", yielded) : "");
    }

    private static async Task DisposeAsync(FirstVerificationSnapshot? first)
    {
        if (first is not null)
        {
            await first.DisposeAsync();
        }
    }

    /// <summary>
    /// The tables the copy gave up, handed to the follow to copy again (with those whose foreign keys reference them),
    /// each said in a line of the step's output and recorded (<see cref="Yielded"/>). Returns the lines.
    /// </summary>
    private static async Task<IReadOnlyList<string>> YieldedAsync(MigrationContext context, IReadOnlyList<YieldedTable> yielded, CancellationToken cancellationToken)
    {
        if (yielded.Count == 0)
        {
            context.Record.Remove(Yielded);
            return [];
        }

        var again = await Online.Apply.YieldedTables.RecordAsync(context.Options.Source, context.Folder, [.. yielded.Select(y => y.Table)], cancellationToken);
        var lines = yielded.Select(y => again.Contains(y.Table.Qualified)
            ? $"{y.Table.Display} {y.What}: copied again after it, at its place in the source's order, while following"
            : $"{y.Table.Display} {y.What}: it is no longer on the source under that name, so its rows are not copied").ToList();
        var others = again.Except(yielded.Select(y => y.Table.Qualified), StringComparer.Ordinal).ToList();
        if (others.Count > 0)
        {
            lines.Add($"{Sentences.FirstFew(others, 5)} copied again with {(yielded.Count == 1 ? "it" : "them")}: {(others.Count == 1 ? "its" : "their")} foreign keys reference {(yielded.Count == 1 ? "it" : "them")}");
        }

        foreach (var line in lines)
        {
            context.Reporter.Info(line + ".");
        }

        context.Record.Set(Yielded, lines);
        context.Journal.Save();
        return lines;
    }

    /// <summary>
    /// Removes the slot, the publication and the replica identities from the source; then, unless the migration
    /// completed or switched (its cutover removed it), the tool's schema from the target, and marks the step to run again.
    /// Without the source (a cancel given none) nothing is undone; without the target, its schema is recorded as
    /// left (<see cref="TargetSchemaLeft"/>) and removed by the next undo that has the target.
    /// </summary>
    public async Task UndoAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var record = context.Record;
        if (record.Get(Slot) is { } slot)
        {
            if (!context.HasSource)
            {
                return;
            }

            await RemoveFromSourceAsync(context, slot, cancellationToken);
            context.Reporter.Info($"Replication slot and publication {slot} removed from the source.");
        }

        // After the switch the target is the applications': never emptied for a copy again.
        if (context.Journal.Status == MigrationStatus.Completed || context.Journal.SwitchedAt is not null)
        {
            return;
        }

        if (!context.HasTarget)
        {
            record.Set(TargetSchemaLeft, OnlineNames.TargetSchema);
        }
        else
        {
            try
            {
                await using var target = await Db.OpenAsync(context.Options.Into.Connection, "target", cancellationToken);
                await TargetState.RemoveAsync(target, cancellationToken);
                if (record.Remove(TargetSchemaLeft))
                {
                    context.Reporter.Info($"Schema {OnlineNames.TargetSchema} removed from the target.");
                }
            }
            catch (PgRelocateException e)
            {
                record.Set(TargetSchemaLeft, OnlineNames.TargetSchema);
                context.Reporter.Warn($"Could not remove {OnlineNames.TargetSchema} from the target: {e.Message}");
            }
        }

        // The slot this step made is gone: a resumed migration must copy again, and its new follow waits for a new
        // cutover request (one made for this follow would switch the next before it was verified).
        CutoverRequest.Clear(context.Folder);
        record.Status = StepStatus.Pending;
        record.Summary = "undone: the slot is removed, a resumed migration copies again";
        // The new copy's objects are the login role's again: --roles gives them their owners again after it.
        if (context.Journal.Steps.FirstOrDefault(s => s.Name == OwnersStep.StepName) is { Status: StepStatus.Done } owners)
        {
            owners.Status = StepStatus.Pending;
            owners.Summary = "to do again after the new snapshot copy";
        }

        // And the follow of the new slot: its verification, the cutover request it waits for, its PAUSE behind PgBouncer;
        // and its cutover, should a later step have failed (the way back's capture, behind PgBouncer its RELOAD).
        foreach (var again in context.Journal.Steps.Where(s => s.Name is FollowStep.StepName or OnlineCutoverStep.StepName && s.Status == StepStatus.Done))
        {
            again.Status = StepStatus.Pending;
            again.Summary = "to do again after the new snapshot copy";
        }
    }

    /// <summary>Removes this step's slot, publication and replica identities from the source, and says so in its record.</summary>
    internal static async Task RemoveFromSourceAsync(MigrationContext context, string slot, CancellationToken cancellationToken)
    {
        var record = context.Journal.Step(StepName);
        await SourceSide.RemoveAsync(context.Options.Source, slot, record.Get(Publication)!, IdentityTables(record), cancellationToken);
        record.Remove(Slot);
        record.Remove(ReplicaIdentityFull);
    }

    /// <summary>
    /// Why an online migration's snapshot copy, once interrupted, starts over rather than going on like a direct
    /// one: the rows it committed were read in its slot's snapshot, which lived only as long as the replication
    /// session that exported it, and the changes the follow applies begin at that slot's position.
    /// </summary>
    public const string ResumeMessage = "The interrupted snapshot copy cannot go on: it read the snapshot its replication slot exported, which ended with the run's replication session, and rows read from any other snapshot would not match the slot's changes. Copying again from a new slot, replacing what the target holds.";

    /// <summary>An undone step is done with, unless it left the tool's schema on a target it could not reach.</summary>
    public bool LeftToUndo(StepRecord record) =>
        record.Status is not (StepStatus.Pending or StepStatus.Skipped or StepStatus.Undone) || record.Has(TargetSchemaLeft);

    /// <summary>The output saying an undo without the target left the tool's schema there (its name).</summary>
    public static readonly JournalKey<string> TargetSchemaLeft = JournalKey.Text("targetSchemaLeft");

    /// <summary>The tables this migration set REPLICA IDENTITY FULL on (quoted names).</summary>
    public static IReadOnlyList<string> IdentityTables(StepRecord record) =>
        record.Get(ReplicaIdentityFull) ?? [];
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;
using PgRelocate.Verify;

namespace PgRelocate.Online.Fallback;

/// <summary>
/// How the way back ends: removed from both sides (<c>finish</c>, <c>cancel</c>, the queue's limit), or used
/// (<c>rollback</c>). Each part is safe to repeat, in an order that a kill anywhere and a run again finish: the
/// queue goes from the target only once the old source holds all of it, and the old source's record of what it
/// applied only once the queue is gone.
/// </summary>
internal static class FallbackEnding
{
    /// <summary>
    /// Removes the way back of <paramref name="journal"/> from the sides given: the capture from the target (the
    /// slot and publication, or the triggers, and the tool's schema), the record (and the disabled triggers) from the old source.
    /// </summary>
    public static async Task RemoveAsync(MigrationJournal journal, PgConnectionInfo? oldSource, PgConnectionInfo? target, CancellationToken cancellationToken)
    {
        if (target is not null)
        {
            await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
            await RemoveFromTargetAsync(journal, target, conn, cancellationToken);
        }

        if (oldSource is not null)
        {
            await using var conn = await RollbackSessions.OpenWritableAsync(oldSource, FollowSides.Back.Target, cancellationToken);
            await TargetState.RemoveAsync(conn, cancellationToken);
        }
    }

    /// <summary>The capture removed from the target, on <paramref name="conn"/>: the slot and publication, or the triggers, and the tool's schema.</summary>
    private static async Task RemoveFromTargetAsync(MigrationJournal journal, PgConnectionInfo target, NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        if (FallbackSlot.Chosen(journal))
        {
            await FallbackSlot.RemoveAsync(journal, target, cancellationToken);
        }

        await FallbackCapture.RemoveAsync(conn, cancellationToken);
    }

    /// <summary>
    /// Switches back: the target refuses writes (its sessions ended), its last changes are applied to the old
    /// source, the capture removed from the target, the sequences set on the old source to the target's values,
    /// its large objects made the target's (<see cref="LargeObjectsAgain"/>), its triggers re-enabled, a table the
    /// target has and it lacks refused (<see cref="CompareTablesAsync"/>), the tables the way back changed compared row by row, and the old
    /// source made writable again; behind PgBouncer (paused before), its entry then put back to the old source,
    /// RELOADed and RESUMEd, and RESUMEd where it points should the rollback stop. Returns the summary.
    /// </summary>
    /// <exception cref="PgRelocateException">The old source differs from the target after all was applied: the target stays read-only.</exception>
    /// <param name="sessions">The rollback's sessions (<see cref="RollbackSessions.OpenAsync"/>), the caller's to close.</param>
    public static async Task<string> RollbackAsync(MigrationContext context, RollbackSessions sessions, CancellationToken cancellationToken)
    {
        try
        {
            return await RollbackThenTurnAsync(context, sessions, cancellationToken);
        }
        catch when (context.Options.PgBouncer is not null)
        {
            // Behind PgBouncer (paused by the way back's step): never left paused by a rollback that stops.
            await PgBouncerSwitch.ResumeBackLeftAsync(context, CancellationToken.None);
            throw;
        }
    }

    /// <summary>The rollback, then, behind PgBouncer, its entry turned back to the old source and RESUMEd.</summary>
    private static async Task<string> RollbackThenTurnAsync(MigrationContext context, RollbackSessions sessions, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var (oldSource, target) = (options.Source, options.Into.Connection);
        var record = context.Record;
        var (conn, old) = (sessions.Target, sessions.Old);
        var (_, closing, refused) = await ReadOnlySourceStep.RefuseWritesAsync(conn, target.Database, context.Journal.Id, "target", cancellationToken);
        record.Set(Steps.FallbackStep.TargetReadOnly, ReadOnlyState.On);
        context.Journal.Save();
        context.Reporter.Info($"Target {target.Database} is read-only; applying its last changes to the old source.");

        await ApplyLastAsync(context, sessions, everyoneEnded: closing == 0 && refused == 0, cancellationToken);
        FaultInjection.At(Steps.FallbackStep.StepName, "capture removed");
        var (sequences, missing) = await SequenceSync.SyncAsync(conn, old, cancellationToken);
        if (missing.Count > 0)
        {
            context.Reporter.Warn(SequenceSync.MissingWarning(missing));
        }

        // No trigger sees a large object: the old source's are made the target's, by their digests.
        var largeObjects = await LargeObjectsAgain.CopyChangedAsync(conn, old, cancellationToken);
        var (configuration, unlogged) = await CopyWhatTheWayBackMissesAsync(context, conn, old, cancellationToken);
        await TargetState.RemoveAsync(old, cancellationToken);

        // Behind PgBouncer the application has waited since the rollback's PAUSE: the console's logins for the turn
        // back (RELOAD and RESUME) are made now, while the tables are compared (a run again after the turn has none).
        await using var logins = options.PgBouncer is not null && !PgBouncerSwitch.SwitchedBack(context.Journal) ? PgBouncerSwitch.LogIn(context) : null;
        var dropped = await CompareTablesAsync(old, conn, cancellationToken);
        if (dropped.Count > 0)
        {
            context.Reporter.Warn($"Dropped on the target after the switch, kept on the old source with the rows they had then: {string.Join(", ", dropped)}. Drop them there if the applications no longer use them.");
        }

        var compared = await VerifyAsync(context, old, unlogged, cancellationToken);
        await ReadOnlySourceStep.LiftAsync(old, oldSource.Database, cancellationToken);
        context.Journal.Step(ReadOnlySourceStep.StepName).Set(ReadOnlySourceStep.ReadOnly, ReadOnlyState.Lifted);
        var behind = "";
        if (options.PgBouncer is { } pgbouncer)
        {
            var paused = await PgBouncerSwitch.SwitchBackAsync(context, cancellationToken, logins);
            behind = $"; PgBouncer's entry '{pgbouncer.Entry}' points at the old source again{(paused is { } p ? $" (the application's queries waited {p.TotalSeconds:0.000}s there)" : "")}";
        }

        record.Set(Steps.FallbackStep.RolledBack, true);
        var kept = dropped.Count == 0 ? "" : $"; {Errors.Sentences.Counted(dropped.Count, "table")} dropped on the target after the switch kept on the old source: {string.Join(", ", dropped)}";
        return $"rolled back: the target refuses writes; {record.Get(Steps.FallbackStep.LastChanges) ?? 0} last changes, {sequences} sequences, {largeObjects} changed large objects{Copied(configuration, "extension configuration table")}{Copied(unlogged, "unlogged table")} applied to the old source, {compared} changed tables verified identical{kept}; the old source takes writes again{behind}";
    }

    /// <summary>
    /// What the way back does not carry, made the target's on the old source now the target is read-only (before the
    /// old source's triggers are on again): the rows of the extensions' configuration tables where they differ (the
    /// tables are the extensions' owner's, which neither a trigger of the login role nor its publication sees), and,
    /// for a way back by a slot, the unlogged tables (their changes are not in the WAL), copied whole.
    /// </summary>
    /// <returns>The configuration tables whose rows were copied, and the unlogged tables copied ("schema.table").</returns>
    private static async Task<(IReadOnlyList<string> Configuration, IReadOnlyList<string> Unlogged)> CopyWhatTheWayBackMissesAsync(MigrationContext context, NpgsqlConnection target, NpgsqlConnection old, CancellationToken cancellationToken)
    {
        var configuration = await ConfigurationRows.CopyChangedAsync(await ConfigurationRows.ListAsync(target, cancellationToken), target, old, context.Reporter, cancellationToken);
        if (!FallbackSlot.Chosen(context.Journal))
        {
            // The capture's triggers fire on unlogged tables as on any other.
            return (configuration, []);
        }

        var unlogged = (await SourceSide.UnloggedTablesAsync(target, cancellationToken)).Select(t => t.Name).ToList();
        var (copied, rows, bytes) = await TablesAgain.CopyAsync(target, old, unlogged, context.Reporter, cancellationToken);
        if (copied.Count > 0)
        {
            context.Reporter.Info($"Unlogged tables copied again to the old source: {string.Join(", ", copied)} ({rows} rows, {Units.Bytes(bytes)}).");
        }

        return (configuration, copied);
    }

    private static string Copied(IReadOnlyList<string> tables, string what) =>
        tables.Count == 0 ? "" : $", the rows of {Errors.Sentences.Counted(tables.Count, what)}";

    /// <summary>
    /// The target's last changes (it refuses writes now) applied to the old source, the tables they changed kept in
    /// the journal, then the capture removed from the target (on the rollback's session there). Skipped when a run
    /// before got as far as removing it.
    /// </summary>
    /// <param name="everyoneEnded">Every other session on the target was ended: nothing can write there now.</param>
    private static async Task ApplyLastAsync(MigrationContext context, RollbackSessions sessions, bool everyoneEnded, CancellationToken cancellationToken)
    {
        var (conn, old) = (sessions.Target, sessions.Old);
        var (oldSource, target) = (context.Options.Source, context.Options.Into.Connection);
        var record = context.Record;
        var bySlot = FallbackSlot.Chosen(context.Journal);
        if (!(bySlot ? await FallbackSlot.ExistsAsync(conn, FallbackSlot.Name(context.Journal.Id), cancellationToken) : await FallbackCapture.ExistsAsync(conn, cancellationToken)))
        {
            return;
        }

        if (bySlot)
        {
            record.Set(Steps.FallbackStep.LastChanges, await FallbackSlot.ApplyLastAsync(context, cancellationToken));
            record.Set(Steps.FallbackStep.ChangedTables, [.. await TargetState.ChangedTablesAsync(old, cancellationToken)]);
        }
        else
        {
            // The way back's own follower where it was following until the rollback (its sessions open, its tables described).
            await using var follower = sessions.TakeFollowing() ?? await FallbackFollower.OpenAsync(oldSource, target, context.Options.Into.Jobs, context.Journal.Id, cancellationToken);
            // Every session that could write is gone: rounds apply all, until one (not held up) finds nothing, or one
            // began with no transaction in progress on a target where nobody is left to start one.
            while (await follower.RoundAsync(cancellationToken) is var applied && (follower.Waiting || (applied > 0 && !(everyoneEnded && follower.Quiet))))
            {
            }

            record.Set(Steps.FallbackStep.ChangedTables, [.. await follower.ChangedTablesAsync(cancellationToken)]);
            record.Set(Steps.FallbackStep.LastChanges, follower.Changes);
        }

        context.Journal.Save();
        context.Reporter.Info($"{record.Get(Steps.FallbackStep.LastChanges) ?? 0} last changes of the target applied to the old source (the way back changed {Errors.Sentences.Counted((record.Get(Steps.FallbackStep.ChangedTables) ?? []).Count, "table")} in all); removing the capture from the target.");
        await RemoveFromTargetAsync(context.Journal, target, conn, cancellationToken);
    }

    /// <summary>
    /// The tables of the two sides, compared by name once the last changes are applied. One the target has and the
    /// old source lacks (the way back could not capture it) stops the rollback, the target read-only; one only the
    /// old source has was dropped on the target after the switch (no trigger sees a DROP): it is kept, with the
    /// rows it had then, named in a warning and returned.
    /// </summary>
    /// <exception cref="PgRelocateException">The old source lacks a table the target has.</exception>
    private static async Task<IReadOnlyList<string>> CompareTablesAsync(NpgsqlConnection oldSource, NpgsqlConnection target, CancellationToken cancellationToken)
    {
        var names = await Task.WhenAll(TableNamesAsync(oldSource, cancellationToken), TableNamesAsync(target, cancellationToken));
        var (old, now) = (names[0], names[1]);
        var missing = now.Except(old, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            throw new PgRelocateException($"After the rollback applied the target's last changes, the old source lacks {Errors.Sentences.Counted(missing.Count, "table")} the target has: {string.Join(", ", missing)} (the way back could not capture them; its warnings said why). The target stays read-only; copy them to the old source and compare the two with 'pgrelocate verify' before the applications use either.", ExitCode.Differences);
        }

        return [.. old.Except(now, StringComparer.Ordinal)];
    }

    private static async Task<List<string>> TableNamesAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        return [.. (await Db.ListAsync(conn, OnlineSql.TargetTables, r => (Schema: r.GetString(0), Name: r.GetString(1)), cancellationToken))
            .Where(t => t.Schema != OnlineNames.TargetSchema).Select(t => $"{t.Schema}.{t.Name}").Order(StringComparer.Ordinal)];
    }

    /// <summary>The tables the way back changed, compared row by row (target against old source, <paramref name="old"/> a session there); returns how many.</summary>
    private static async Task<int> VerifyAsync(MigrationContext context, NpgsqlConnection old, IReadOnlyList<string> copied, CancellationToken cancellationToken)
    {
        var changed = (context.Record.Get(Steps.FallbackStep.ChangedTables) ?? []).ToArray();
        if (changed.Length == 0 && copied.Count == 0)
        {
            return 0;
        }

        List<string> tables;
        await using (var cmd = new NpgsqlCommand(FallbackSql.ChangedTables, old))
        {
            cmd.Parameters.AddWithValue(changed);
            tables = [];
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                tables.Add(r.GetString(0));
            }
        }

        tables.AddRange(copied.Except(tables, StringComparer.Ordinal));

        var result = await Verifier.RunAsync(
            new VerifyOptions { Source = context.Options.Into.Connection, Target = context.Options.Source, Mode = VerifyMode.Checksums, OnlyTables = tables, Jobs = Math.Max(1, context.Options.Into.Jobs) },
            context.Reporter,
            cancellationToken);
        foreach (var table in VerifyStep.Tables(result))
        {
            context.Record.Tables.Add(table with { Title = table.Title + " (the way back, at the rollback)" });
        }

        var differing = result.Tables.Where(t => !t.Equal).Select(t => t.Name).ToList();
        if (differing.Count > 0)
        {
            throw new PgRelocateException($"After the rollback applied the target's last changes, the old source differs from it on {string.Join(", ", differing)}. The target stays read-only; compare the two with 'pgrelocate verify' before the applications use either.", ExitCode.Differences);
        }

        return result.Tables.Count;
    }
}

/// <summary>
/// The rollback's session on each side, for the whole of it, writable themselves (a run again after a kill finds the
/// target read-only already). Opened together before the rollback starts (behind PgBouncer, before its PAUSE: the
/// application waits through everything after it, and an open is about three round trips).
/// </summary>
internal sealed record RollbackSessions(NpgsqlConnection Target, NpgsqlConnection Old) : IAsyncDisposable
{
    /// <summary>The way back's follower by triggers, handed over as it was following when the rollback was asked for.</summary>
    public FallbackFollower? Following { get; set; }

    /// <summary>The follower (<see cref="Following"/>), now the caller's to dispose; null when there is none.</summary>
    public FallbackFollower? TakeFollowing()
    {
        var following = Following;
        Following = null;
        return following;
    }

    public static async Task<RollbackSessions> OpenAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var sessions = await Db.OpenTogetherAsync([
            () => OpenWritableAsync(options.Into.Connection, "target", cancellationToken),
            () => OpenWritableAsync(options.Source, FollowSides.Back.Target, cancellationToken),
        ]);
        return new RollbackSessions(sessions[0], sessions[1]);
    }

    public async ValueTask DisposeAsync()
    {
        if (TakeFollowing() is { } following)
        {
            await following.DisposeAsync();
        }

        await Target.DisposeAsync();
        await Old.DisposeAsync();
    }

    /// <summary>A session writable whatever the database's default.</summary>
    internal static Task<NpgsqlConnection> OpenWritableAsync(PgConnectionInfo info, string role, CancellationToken cancellationToken) =>
        Db.OpenAsync(info, role, SessionOptions.Default, "SET default_transaction_read_only = off", cancellationToken);
}

using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online.Fallback;
using PgRelocate.Progress;

namespace PgRelocate.Online.Steps;

/// <summary>
/// With --fallback, right after the switch and before the applications are told of it (the cutover summary
/// comes next): the capture on the target and the old source's record of what the way back applied. The capture
/// is a replication slot and a publication (<see cref="FallbackSlot"/>) where the target's login role may
/// replicate and its wal_level is logical, else triggers and a queue (<see cref="FallbackCapture"/>); the choice
/// is recorded (<see cref="By"/>) before either is created. The old source stays read-only for the applications (the read-only step's mode, kept),
/// written only by the way back. Behind PgBouncer (paused since the cutover) the entry is repointed at the target and
/// RESUMEd here, once the capture is in place, so that the application's first write is captured. Undone (cancel, a
/// failure), both are removed; the way back's end removes them.
/// </summary>
internal sealed class FallbackCaptureStep : ICompensatingStep
{
    public const string StepName = "way back capture";

    /// <summary>The output that says the capture is in place: on, until something removes it.</summary>
    public static readonly JournalKey<CaptureState?> Capture = JournalKey.State<CaptureState>("capture");

    /// <summary>How the way back follows the target: <see cref="FallbackSlot.BySlot"/> or <see cref="FallbackSlot.ByTriggers"/>.</summary>
    public static readonly JournalKey<string> By = JournalKey.Text("by");

    /// <summary>A way back by a slot: the target's tables it set REPLICA IDENTITY FULL on (quoted names), undone at its end.</summary>
    public static readonly JournalKey<IReadOnlyList<string>> ReplicaIdentityFull = JournalKey.Lines("replicaIdentityFull");

    /// <summary>How long the capture took to set up.</summary>
    public static readonly JournalKey<TimeSpan?> Took = JournalKey.Seconds("seconds");

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Fallback ? null : "no way back asked for (--fallback)";

    public bool KeepOnSuccess(MigrationOptions options) => true;

    public bool LeftToUndo(StepRecord record) => record.Get(Capture) == CaptureState.On;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var record = context.Record;
        // Behind PgBouncer the application has waited since the cutover's PAUSE, and goes on once the capture is on: the
        // console's logins for that turn are made now, while the capture is set up (a run again after the turn has none).
        var turn = context.Options.PgBouncer is not null && context.Journal.Output(FollowStep.StepName, PgBouncerSwitch.State) != PgBouncerState.Switched;
        await using var logins = turn ? PgBouncerSwitch.LogIn(context) : null;
        // A session on each side: the switch's, handed on by the cutover, else opened together (behind PgBouncer the
        // application waits through every open).
        await using var sessions = context.TakeHandOff<SwitchSessions>() ?? await SwitchSessions.OpenAsync(context, cancellationToken);
        var (old, target) = (sessions.Source, sessions.Target);
        // Decided once: a run after a kill goes on with what the first chose (and may have created).
        var by = record.Get(By) ?? (await FallbackSlot.PossibleAsync(target, cancellationToken) ? FallbackSlot.BySlot : FallbackSlot.ByTriggers);
        record.Set(By, by);
        record.Set(Capture, CaptureState.On);
        context.Journal.Save();
        var slot = by == FallbackSlot.BySlot ? FallbackSlot.Name(context.Journal.Id) : null;
        // The old source's record of the way back beside the capture on the target: each is round trips to its own server.
        var preparing = FallbackFollower.PrepareOldSourceAsync(old, slot ?? FallbackFollower.Slot, cancellationToken);
        var capturing = CaptureAsync(context, target, slot, cancellationToken);
        await Task.WhenAll(preparing, capturing);
        var captured = await capturing;

        FaultInjection.At(StepName, "captured");

        // Behind PgBouncer the application goes on now, at the target, every write of it captured.
        var behind = "";
        if (turn && context.Options.PgBouncer is { } pgbouncer)
        {
            var paused = await PgBouncerSwitch.SwitchAsync(context, cancellationToken, logins);
            context.Journal.Step(OnlineCutoverStep.StepName).Set(OnlineCutoverStep.ApplicationPause, paused);
            behind = $"; PgBouncer's entry '{pgbouncer.Entry}' then repointed at the target and resumed (the application's queries waited {paused.TotalSeconds:0.000}s there)";
        }

        // The forward follow's slot and publication, which the cutover left for now (the application waited meanwhile).
        if (context.Journal.Output(SnapshotCopyStep.StepName, SnapshotCopyStep.Slot) is { } forward)
        {
            await OnlineCutoverStep.RemoveSlotAsync(context, forward, cancellationToken);
        }

        var took = DateTimeOffset.UtcNow - started;
        var seconds = took.TotalSeconds;
        record.Set(Took, took);
        record.Summary = $"{captured} in {seconds:0.0}s (after the write downtime measured, before the applications are told); the old source stays read-only to the applications and follows the target{behind}";
        context.Reporter.Info($"A way back is ready: the target's changes go to the old source until 'pgrelocate rollback {context.Journal.Id}' or 'pgrelocate finish {context.Journal.Id}'.");
    }

    /// <summary>Creates the capture on the target: by triggers and a queue, or (<paramref name="slot"/> given) a slot and a publication. Returns what it did, for the summary.</summary>
    private static async Task<string> CaptureAsync(MigrationContext context, Npgsql.NpgsqlConnection target, string? slot, CancellationToken cancellationToken)
    {
        if (slot is null)
        {
            return $"{await FallbackCapture.CreateAsync(target, cancellationToken)} tables captured on the target by triggers";
        }

        var record = context.Record;
        await FallbackSlot.CreateAsync(
            target,
            slot,
            tables =>
            {
                record.Set(ReplicaIdentityFull, [.. (record.Get(ReplicaIdentityFull) ?? []).Union(tables, StringComparer.Ordinal)]);
                context.Journal.Save();
            },
            cancellationToken);
        return $"replication slot and publication {slot} created on the target (its login role may replicate)";
    }

    public async Task UndoAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        // A rollback behind PgBouncer stopped by a kill left it paused: resumed where its entry points.
        await PgBouncerSwitch.ResumeBackLeftAsync(context, cancellationToken);
        await FallbackEnding.RemoveAsync(context.Journal, context.HasSource ? context.Options.Source : null, context.HasTarget ? context.Options.Into.Connection : null, cancellationToken);
        if (context.HasSource && context.HasTarget)
        {
            Removed(context.Journal);
            context.Record.MarkUndone("the way back was removed from the target and the old source");
            context.Reporter.Info("The way back is removed from the target and the old source.");
        }
    }

    /// <summary>Records that nothing of the way back is left on either side.</summary>
    internal static void Removed(MigrationJournal journal) => journal.Step(StepName).Set(Capture, CaptureState.Removed);
}

/// <summary>Whether the way back's capture is in place (<see cref="FallbackCaptureStep.Capture"/>).</summary>
internal enum CaptureState
{
    On,

    /// <summary>Removed from both sides.</summary>
    Removed,
}

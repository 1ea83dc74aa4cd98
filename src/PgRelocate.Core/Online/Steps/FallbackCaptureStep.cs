using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online.Fallback;
using PgRelocate.Progress;

namespace PgRelocate.Online.Steps;

/// <summary>
/// With --fallback, right after the switch and before the applications are told of it (the cutover summary
/// comes next): the capture on the target (<see cref="FallbackCapture"/>) and the old source's record of what
/// the way back applied. The old source stays read-only for the applications (the read-only step's mode, kept),
/// written only by the way back. Undone (cancel, a failure), both are removed; the way back's end removes them.
/// </summary>
internal sealed class FallbackCaptureStep : ICompensatingStep
{
    public const string StepName = "way back capture";

    /// <summary>The output that says the capture is in place: on, until something removes it.</summary>
    public static readonly JournalKey<CaptureState?> Capture = JournalKey.State<CaptureState>("capture");

    /// <summary>How long the capture took to set up.</summary>
    public static readonly JournalKey<TimeSpan?> Took = JournalKey.Seconds("seconds");

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Fallback ? null : "no way back asked for (--fallback)";

    public bool KeepOnSuccess(MigrationOptions options) => true;

    public bool LeftToUndo(StepRecord record) => record.Get(Capture) == CaptureState.On;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        context.Record.Set(Capture, CaptureState.On);
        context.Journal.Save();
        await using (var old = await Db.OpenAsync(context.Options.Source, "source", cancellationToken))
        {
            await FallbackFollower.PrepareOldSourceAsync(old, cancellationToken);
        }

        int tables;
        await using (var target = await Db.OpenAsync(context.Options.Into.Connection, "target", cancellationToken))
        {
            tables = await FallbackCapture.CreateAsync(target, cancellationToken);
        }

        var took = DateTimeOffset.UtcNow - started;
        var seconds = took.TotalSeconds;
        context.Record.Set(Took, took);
        context.Record.Summary = $"{tables} tables captured on the target in {seconds:0.0}s (after the write downtime measured, before the applications are told); the old source stays read-only to the applications and follows the target";
        context.Reporter.Info($"A way back is ready: the target's changes go to the old source until 'pgrelocate rollback {context.Journal.Id}' or 'pgrelocate finish {context.Journal.Id}'.");
    }

    public async Task UndoAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        await FallbackEnding.RemoveAsync(context.HasSource ? context.Options.Source : null, context.HasTarget ? context.Options.Into.Connection : null, cancellationToken);
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

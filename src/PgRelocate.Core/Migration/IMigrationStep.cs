using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Migration;

/// <summary>What a step gets: the options, the journal (with earlier steps' outputs) and its own record.</summary>
public sealed class MigrationContext
{
    /// <summary>The run's options; a step may add what the run is given on its way (the PgBouncer a `cutover` names), recorded in the journal too.</summary>
    public required MigrationOptions Options { get; set; }

    public required MigrationJournal Journal { get; init; }

    public required PgBinaries Binaries { get; init; }

    public required IReporter Reporter { get; init; }

    /// <summary>The record of the step being run: set its summary, outputs and tables.</summary>
    public StepRecord Record { get; internal set; } = null!;

    /// <summary>
    /// Whether the steps may connect to the source (true in a run). <c>cancel</c> of a migration whose process is
    /// gone undoes its steps with the connections it is given; the journal records none with its password, so an
    /// undo skips its part on a side not given, and its record says what is left there.
    /// </summary>
    public bool HasSource { get; init; } = true;

    /// <summary>Whether the steps may connect to the target (true in a run); see <see cref="HasSource"/>.</summary>
    public bool HasTarget { get; init; } = true;

    /// <summary>Whether the undo is <c>cancel</c>'s, of a migration whose process is gone (its journal may say failed rather than canceled).</summary>
    public bool Canceling { get; init; }

    /// <summary>The migration's own folder, for its archive and logs.</summary>
    public string Folder => Journal.Folder;

    private readonly List<IAsyncDisposable> _handOffs = [];

    /// <summary>
    /// Hands something still running (a restore following the dump, an open replication session) from this step
    /// to a later one, which takes it with <see cref="TakeHandOff{T}"/>. Whatever no step took is disposed by the
    /// runner when the migration ends, before it undoes any step: nothing handed off outlives the run, nor holds
    /// what an undo removes (a replication slot an open session keeps active).
    /// </summary>
    public void HandOff<T>(T item)
        where T : class, IAsyncDisposable
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_handOffs)
        {
            _handOffs.Add(item);
        }
    }

    /// <summary>The item of type <typeparamref name="T"/> an earlier step handed off, now the caller's to dispose; null when there is none.</summary>
    public T? TakeHandOff<T>()
        where T : class, IAsyncDisposable
    {
        lock (_handOffs)
        {
            var index = _handOffs.FindIndex(h => h is T);
            if (index < 0)
            {
                return null;
            }

            var item = (T)_handOffs[index];
            _handOffs.RemoveAt(index);
            return item;
        }
    }

    /// <summary>Disposes, last handed first, whatever was handed off and not taken.</summary>
    internal async Task DisposeHandOffsAsync()
    {
        List<IAsyncDisposable> left;
        lock (_handOffs)
        {
            left = [.. _handOffs];
            _handOffs.Clear();
        }

        for (var i = left.Count - 1; i >= 0; i--)
        {
            await left[i].DisposeAsync();
        }
    }
}

/// <summary>
/// One step of a migration. Contract: <see cref="RunAsync"/> may be run again after a crash at any point
/// inside it (a resumed migration redoes an interrupted step), so it must be safe to repeat: it cleans up
/// what a previous, interrupted attempt left. It records what later steps need in
/// <see cref="MigrationContext.Record"/>, never secrets.
/// </summary>
public interface IMigrationStep
{
    /// <summary>The step's name in the journal, the progress display and the report.</summary>
    string Name { get; }

    /// <summary>Null when the step runs with these options; otherwise why it is skipped.</summary>
    string? SkipReason(MigrationOptions options);

    Task RunAsync(MigrationContext context, CancellationToken cancellationToken);

    /// <summary>The part of the estimate the step's duration counts toward (see <see cref="EstimatePair"/>); null: none.</summary>
    EstimatedPart? Estimated => null;
}

/// <summary>A step whose effect is undone when the migration fails, is cancelled, or (unless kept) ends.</summary>
internal interface ICompensatingStep : IMigrationStep
{
    /// <summary>Undoes the step's effect. Safe to call when the step never ran or was already undone.</summary>
    Task UndoAsync(MigrationContext context, CancellationToken cancellationToken);

    /// <summary>Whether the effect stays in place after a successful migration.</summary>
    bool KeepOnSuccess(MigrationOptions options);

    /// <summary>
    /// Whether <paramref name="record"/> says the step left something to undo: by default, once it has started and
    /// until it is undone. A step whose undo left a part behind (a side it could not reach) says so here too.
    /// </summary>
    bool LeftToUndo(StepRecord record) => record.Status is not (StepStatus.Pending or StepStatus.Skipped or StepStatus.Undone);
}

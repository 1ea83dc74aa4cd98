using Npgsql;

namespace PgRelocate.Online.Apply;

/// <summary>
/// What <see cref="ChangeApplier"/> and <see cref="StreamedTransactions"/> ask of a lane: take a source
/// transaction's changes to its tables in order, commit when told (with each table's position and, if given, one
/// statement of the applier's own in the same transaction), stop. <see cref="ApplyLane"/> is the one on a target
/// connection; tests give the applier lanes that record what they are asked.
/// </summary>
internal interface IApplyLane
{
    /// <summary>Tables changed by this lane since the follow started (quoted, qualified names); safe to read from another task.</summary>
    IReadOnlyCollection<string> ChangedTables { get; }

    /// <summary>True while its target transaction holds changes not committed yet.</summary>
    bool HasOpenGroup { get; }

    /// <summary>Before the first change of a source transaction routed here (<paramref name="commitLsn"/>: where it commits, for the tables' stored positions).</summary>
    ValueTask BeginAsync(ulong commitLsn, CancellationToken cancellationToken);

    ValueTask ApplyAsync(Change change, CancellationToken cancellationToken);

    /// <summary>After the last change of a source transaction routed here.</summary>
    ValueTask EndAsync(ulong endLsn, CancellationToken cancellationToken);

    /// <summary>Commits what the lane holds, once it has applied everything sent before; done when committed.</summary>
    /// <param name="last">A statement of the applier's own to run last in the same transaction (the follow's position).</param>
    Task CommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null);

    /// <summary>
    /// Asks the lane to commit what it holds once it has applied everything sent before, and returns once asked (the
    /// lane holds no open group from then on), with a task done when committed.
    /// </summary>
    ValueTask<Task> StartCommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null);

    /// <summary>
    /// Asks the lane to run one statement of the applier's own, outside any transaction, once everything before it is
    /// done and <paramref name="after"/> has completed; returns once asked, with a task done when run.
    /// </summary>
    ValueTask<Task> StartRunAsync(NpgsqlBatchCommand command, Task after, CancellationToken cancellationToken);

    /// <summary>Stops the lane; what it holds uncommitted is rolled back with its connection.</summary>
    Task StopAsync();
}

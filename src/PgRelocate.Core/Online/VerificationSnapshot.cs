using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using PgRelocate.Connections;
using PgRelocate.Online.Follow;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// The source's side of one verification while following: a temporary replication slot exporting a snapshot at its
/// consistent point (it holds every transaction committed before that point, and none after) and a marker written
/// after that point (see <see cref="PausePoint"/>). The exported snapshot stays importable while the slot's
/// connection is open and idle: it stays open until this is disposed. Creating the slot waits for the source's
/// running transactions to end (a long one holds it up), so the follow goes on meanwhile and pauses at
/// <see cref="Pause"/> once it is known. Should the follow have taken a transaction past that position already, the
/// slot is taken again with the follow stopped (<see cref="TakeAgainAsync"/>).
/// </summary>
internal sealed class VerificationSnapshot : IAsyncDisposable
{
    /// <summary>The program its sessions name (see <see cref="SnapshotWaiters"/>).</summary>
    internal const string ApplicationName = "pgrelocate online verify";
    private readonly PgConnectionInfo _source;
    private readonly string _name;
    private readonly LogicalReplicationConnection _replication;
    private readonly CancellationTokenSource _creation;
    private readonly Task<PgOutputReplicationSlot> _creating;
    private readonly Task _watching;
    private readonly Task<bool> _marking;
    private LogicalReplicationConnection? _again;
    private PgOutputReplicationSlot? _takenAgain;
    private bool _markedAgain;

    private VerificationSnapshot(PgConnectionInfo source, string name, LogicalReplicationConnection replication, Func<bool> giveUp, CancellationToken cancellationToken)
    {
        (_source, _name, _replication) = (source, name, replication);
        // Creating it waits for every transaction open on the source: a cutover asked meanwhile cancels it.
        _creation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _creating = CreateSlotAsync(replication, source, name, _creation.Token);
        _watching = CancelWhenAsync(_creating, giveUp, _creation);
        _marking = MarkAfterAsync(_creating, source, cancellationToken);
    }

    /// <summary>
    /// Opens the slot's connection and begins creating the slot, then writing the marker after it, while the caller
    /// goes on; should <paramref name="giveUp"/> say so before the slot is created, its creation is cancelled.
    /// </summary>
    public static async Task<VerificationSnapshot> BeginAsync(PgConnectionInfo source, string name, Func<bool> giveUp, IReporter reporter, CancellationToken cancellationToken)
    {
        var replication = await Db.OpenReplicationAsync(source, "source", ApplicationName, cancellationToken);
        reporter.Info("Taking a snapshot of the source to verify the target while following: the apply pauses at its position for a moment, to hold the target as it is there.");
        return new VerificationSnapshot(source, name, replication, giveUp, cancellationToken);
    }

    /// <summary>The slot the follow pauses for: the one being created (null until it is), or the one taken again.</summary>
    public PgOutputReplicationSlot? Slot => _takenAgain ?? (_creating.IsCompletedSuccessfully ? _creating.Result : null);

    /// <summary>The first slot or its marker failed: the follow must not wait for its pause.</summary>
    public bool Failed => _creating.IsFaulted || _creating.IsCanceled || _marking.IsFaulted || _marking.IsCanceled;

    /// <summary>
    /// Where the follow pauses, null while not known. While the marker is being written it counts as written: the follow
    /// must not pause on a quiet source before it comes (it may come before its writer hears of its commit).
    /// </summary>
    public PausePoint? Pause() =>
        Slot is { } known ? new PausePoint(known.ConsistentPoint, _takenAgain is null ? _marking is not { IsCompletedSuccessfully: true, Result: false } : _markedAgain) : null;

    /// <summary>The first slot, once created and marked; throws what either failed with.</summary>
    public async Task<PgOutputReplicationSlot> TakenAsync()
    {
        var first = await _creating;
        await _marking;
        return first;
    }

    /// <summary>Cancels the first slot's creation if it is still waiting, and stops watching for a cutover asked.</summary>
    public async Task StopCreatingAsync()
    {
        if (!_creating.IsCompleted)
        {
            await _creation.CancelAsync();
        }

        await _watching;
    }

    /// <summary>The slot taken again (the follow stopped, having passed the first one's position), marked after it.</summary>
    public async Task TakeAgainAsync(CancellationToken cancellationToken)
    {
        await _replication.DisposeAsync();
        _again = await Db.OpenReplicationAsync(_source, "source", ApplicationName, cancellationToken);
        var taken = CreateSlotAsync(_again, _source, $"{_name}_again", cancellationToken);
        _markedAgain = await MarkAfterAsync(taken, _source, cancellationToken);
        _takenAgain = await taken;
    }

    /// <summary>The tables ("schema.table") the source truncated or rewrote after the snapshot, which it then shows without their rows.</summary>
    public async Task<IReadOnlySet<string>> RewrittenTablesAsync(CancellationToken cancellationToken)
    {
        if (Slot?.SnapshotName is not { } snapshot)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        await using var conn = await Db.OpenAsync(_source, "source", cancellationToken);
        await Db.ExecuteAsync(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cancellationToken);
        await Db.ExecuteAsync(conn, $"SET TRANSACTION SNAPSHOT {Db.Literal(snapshot)}", cancellationToken);
        return (await Db.ListAsync(conn, OnlineSql.RewrittenTables, r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Closes the slots' connections: the temporary slots and their snapshots go with them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_again is { } again)
        {
            await again.DisposeAsync();
        }

        _creation.Dispose();
        await _replication.DisposeAsync();
    }

    /// <summary>A temporary slot (dropped with its connection) exporting a snapshot at its consistent point.</summary>
    private static async Task<PgOutputReplicationSlot> CreateSlotAsync(LogicalReplicationConnection replication, PgConnectionInfo source, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await replication.CreatePgOutputReplicationSlot(name, temporarySlot: true, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw Db.Describe(e, source, "source");
        }
    }

    /// <summary>Cancels <paramref name="creation"/> should <paramref name="giveUp"/> say so before the slot is created.</summary>
    private static async Task CancelWhenAsync(Task creating, Func<bool> giveUp, CancellationTokenSource creation)
    {
        while (!creating.IsCompleted)
        {
            if (giveUp())
            {
                await creation.CancelAsync();
                return;
            }

            await Task.WhenAny(creating, Task.Delay(TimeSpan.FromMilliseconds(250)));
        }
    }

    /// <summary>Once the slot is created, a marker after its position (see <see cref="PausePoint"/>); false when none can be written.</summary>
    private static async Task<bool> MarkAfterAsync(Task<PgOutputReplicationSlot> creating, PgConnectionInfo source, CancellationToken cancellationToken)
    {
        await creating;
        await using var conn = await Db.OpenAsync(source.WithApplicationName(ApplicationName), "source", cancellationToken);
        return await SourceSide.TryMarkAsync(conn, "verify", cancellationToken);
    }
}

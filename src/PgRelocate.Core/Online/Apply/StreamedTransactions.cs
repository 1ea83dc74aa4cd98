using NpgsqlTypes;
using PgRelocate.Errors;

namespace PgRelocate.Online.Apply;

/// <summary>
/// Large transactions the source streams before they commit (PostgreSQL 14 on), from their first change to
/// their end. The protocol, in the order the stream brings it:
/// <list type="number">
/// <item>Every change (<see cref="StreamedChange"/>) is kept in <see cref="TransactionSpool"/>, so the
/// transaction can always be applied at its commit like any other.</item>
/// <item>One transaction at a time is also applied as it arrives, on a lane and connection of its own
/// (<see cref="IApplyLane"/>) whose target transaction stays open: before each of its changes the applier's open
/// group commits, so it never waits for a change of the other lanes; and it cannot conflict with the
/// transactions they apply meanwhile, which committed on the source while it ran and so touched none of its
/// rows (the source's row locks).</item>
/// <item>Its commit (<see cref="StreamCommitChange"/>) commits the open group, then its changes, its tables'
/// positions and the follow's position in one target transaction: <see cref="StreamedCommit.Committed"/>.</item>
/// <item>Otherwise the spool replays it at its commit's place (<see cref="StreamedCommit.Replay"/>): when another
/// transaction was being applied so, when it truncates (its lock would hold back the verification's reads) or
/// rolls back a subtransaction, when the target refuses one of its statements or its commit, and when it began
/// before this session's start (the source may stream again one applied and committed before a restart, and
/// drop it at its end, which only the replay can tell by its commit position).</item>
/// </list>
/// A lost connection is not a refusal: it ends the session, and the next one starts from what the target stored.
/// </summary>
internal sealed class StreamedTransactions(TransactionSpool spool, ChangeApplier applier, string slot, NpgsqlLogSequenceNumber sessionStart, Func<CancellationToken, Task<IApplyLane>>? openLane) : IAsyncDisposable
{
    private readonly HashSet<uint> _spoolOnly = [];
    private Live? _live;

    /// <summary>The transaction applied as it arrives, on its lane.</summary>
    private sealed class Live(uint xid, IApplyLane lane)
    {
        public uint Xid { get; } = xid;

        public IApplyLane Lane { get; } = lane;

        public long Changes { get; set; }
    }

    /// <summary>Row changes applied as they arrived, not committed yet (a large transaction shows progress through it).</summary>
    public long Pending => _live?.Changes ?? 0;

    /// <summary>The transaction being applied as it arrives, if any.</summary>
    public uint? LiveXid => _live?.Xid;

    /// <summary>
    /// Keeps a change, and applies it as it arrives when its transaction is (or can become) the one applied so.
    /// Returns the position committed first, if the open group had to be (to confirm to the source), else null.
    /// </summary>
    public async Task<NpgsqlLogSequenceNumber?> AddAsync(StreamedChange change, CancellationToken cancellationToken)
    {
        spool.Add(change);
        if (openLane is null || _spoolOnly.Contains(change.Xid))
        {
            return null;
        }

        if ((_live is { } other && other.Xid != change.Xid) || (_live is null && change.Lsn < (ulong)sessionStart))
        {
            _spoolOnly.Add(change.Xid);
            return null;
        }

        if (change.Change is TruncateChange)
        {
            await GiveUpAsync(spoolOnly: true);
            _spoolOnly.Add(change.Xid);
            return null;
        }

        if (change.Change is not (InsertChange or UpdateChange or DeleteChange))
        {
            return null;
        }

        var committed = await applier.CommitAsync(cancellationToken);
        if (_live is null)
        {
            // Its commit position is not known yet, but it began after this session's start: nothing of it was
            // applied before, so no stored position skips its changes.
            var lane = await openLane(cancellationToken);
            _live = new Live(change.Xid, lane);
            await lane.BeginAsync(ulong.MaxValue, cancellationToken);
        }

        _live.Changes++;
        try
        {
            await _live.Lane.ApplyAsync(change.Change, cancellationToken);
        }
        catch (Exception e) when (Refused(e))
        {
            await GiveUpAsync(spoolOnly: true);
        }

        return committed;
    }

    /// <summary>A streamed transaction or one of its subtransactions rolled back.</summary>
    public async Task AbortAsync(StreamAbortChange abort)
    {
        spool.Abort(abort);
        var subtransaction = abort.SubXid != abort.Xid;
        if (!subtransaction)
        {
            _spoolOnly.Remove(abort.Xid);
        }

        if (_live?.Xid == abort.Xid)
        {
            // A subtransaction's changes are dropped by the spool; the rest of its transaction goes from there too.
            await GiveUpAsync(spoolOnly: subtransaction);
        }
    }

    /// <summary>
    /// The transaction committed on the source: committed on the target now if it was applied as it arrived,
    /// else its changes to replay at this place in the commit order.
    /// </summary>
    public async Task<StreamedCommit> CommitAsync(StreamCommitChange commit, CancellationToken cancellationToken)
    {
        _spoolOnly.Remove(commit.Xid);
        if (_live is not { } live || live.Xid != commit.Xid)
        {
            return new StreamedCommit(null, spool.Commit(commit));
        }

        await applier.CommitAsync(cancellationToken);
        var end = new NpgsqlLogSequenceNumber(commit.EndLsn);
        try
        {
            await live.Lane.EndAsync(commit.EndLsn, cancellationToken);
            await live.Lane.CommitAsync(cancellationToken, TargetState.Advance(slot, end, live.Changes, 1));
        }
        catch (Exception e) when (Refused(e))
        {
            await GiveUpAsync(spoolOnly: false);
            return new StreamedCommit(null, spool.Commit(commit));
        }

        _live = null;
        await live.Lane.StopAsync();
        applier.Committed(end, live.Changes, commit.CommitTime, live.Lane.ChangedTables);
        Migration.FaultInjection.At("follow", "streamed-committed");
        spool.Drop(commit.Xid);
        return new StreamedCommit(end, null);
    }

    /// <summary>
    /// The target refused a statement or the commit of the transaction applied as it arrived (so nothing of it
    /// is committed); a lost connection is not a refusal.
    /// </summary>
    private static bool Refused(Exception e) => !Transience.IsTransient(e) && e is PgRelocateException or Npgsql.PostgresException;

    /// <summary>Rolls back the transaction applied as it arrived: the spool applies it at its commit.</summary>
    private async Task GiveUpAsync(bool spoolOnly)
    {
        if (_live is not { } live)
        {
            return;
        }

        _live = null;
        if (spoolOnly)
        {
            _spoolOnly.Add(live.Xid);
        }

        // Stopping the lane closes its connection, which rolls back the transaction it held open.
        await live.Lane.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await GiveUpAsync(spoolOnly: false);
        spool.Dispose();
    }
}

/// <summary>How a streamed transaction's commit went: <see cref="Committed"/> on the target at that position, or its changes to <see cref="Replay"/>.</summary>
internal sealed record StreamedCommit(NpgsqlLogSequenceNumber? Committed, IEnumerator<Change>? Replay);

using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;

namespace PgRelocate.Online.Follow;

/// <summary>
/// Streams the slot's changes into the target until a condition says stop. Its parts: a
/// <see cref="FollowSession"/> (the replication stream and its reader, the applier over <see cref="Lanes"/>
/// connections, the streamed transactions), a <see cref="SourceWatch"/> (the WAL the slot holds, tables created
/// after the publication) and a <see cref="FollowStatus"/> (status file, progress, the lag's history). Here: the
/// run with its reconnects, the order in which changes are handed on, pauses, and when it has caught up.
/// A dropped connection on either side (a network cut, a restarted server, a terminated session) reconnects and
/// resumes from the position stored in the target, skipping what was applied; anything else stops the follow.
/// </summary>
internal sealed class Follower : IAsyncDisposable
{
    private const int MaxReconnects = 30;
    private readonly PgConnectionInfo _source;
    private readonly PgConnectionInfo _target;
    private readonly string _slot;
    private readonly string _publication;
    private readonly string _folder;
    private readonly IReporter _reporter;
    private readonly HashSet<string> _changedTables = new(StringComparer.Ordinal);
    private FollowStatus? _status;
    private SourceWatch? _watch;
    private string? _marker;
    private FollowSession? _session;
    private FollowCarry? _carry;
    private FollowPause? _pause;
    private readonly FollowGuard _guard;

    public Follower(PgConnectionInfo source, PgConnectionInfo target, string slot, string publication, string folder, IReporter reporter)
    {
        (_source, _target, _slot, _publication, _folder, _reporter) = (source, target, slot, publication, folder, reporter);
        _guard = new FollowGuard(() => Watch, () => Status, target, () => Sides, session => (Changes + session.Applier.Pending + session.Streamed.Pending, Transactions));
    }

    /// <summary>Stop (and let the slot go) once it holds more WAL than this; null: only when the server is about to invalidate it.</summary>
    public long? MaxRetainedBytes { get; init; }

    /// <summary>Connections that apply side by side, each for its own tables (see <see cref="Apply.ApplyRoutes"/>).</summary>
    public int Lanes { get; init; } = 1;

    /// <summary>Carry the source's schema changes to the target (true, the default) or stop at the first (<c>--on-schema-change stop</c>).</summary>
    public bool CarrySchemaChanges { get; init; } = true;

    /// <summary>What its lines call the two sides: the source and the target, or, for the way back, the target and the old source.</summary>
    public FollowSides Sides { get; init; } = FollowSides.Forward;

    /// <summary>The phase shown by status ("follow", "cutover").</summary>
    public string Phase { get; init; } = "follow";

    /// <summary>What its own sessions on the source are called (its watch's, its carry's); null: their defaults. See <see cref="FollowGoingOn"/>.</summary>
    public string? SourceSessions { get; init; }

    private FollowStatus Status => _status ??= new FollowStatus(_folder, _reporter, Phase) { Waiting = () => Carry.Waiting };

    /// <summary>The follow's part in carrying schema changes: new tables, column attributes, enum values.</summary>
    public FollowCarry Carry => _carry ??= new FollowCarry(_source, _target, _publication, _folder, _reporter, CarrySchemaChanges, SourceSessions);

    /// <summary>The WAL the slot holds on the stream's source, at the watch's last look (every 2 seconds).</summary>
    public long Retained => Watch.Retained;

    private SourceWatch Watch => _watch ??= new SourceWatch(_source, _slot, _publication, _reporter, Sides, SourceSessions) { MaxRetainedBytes = MaxRetainedBytes };

    /// <summary>Moves the follow into another phase (the verification while following): status and the lag's history say so at once.</summary>
    public void MarkPhase(string phase) => Status.MarkPhase(phase);

    /// <summary>Hands the follow to another phase (the cutover) with a history of its own, keeping the session open.</summary>
    public void StartPhase(string phase) => Status.StartPhase(phase);

    /// <summary>Samples of the lag for the report's chart: about one every two seconds, bounded however long the follow runs.</summary>
    public LagHistory History => Status.History;

    /// <summary>Tables the follow changed ("schema.table").</summary>
    public IReadOnlyCollection<string> ChangedTables => _session is { } open ? [.. _changedTables.Union(open.Applier.ChangedTables)] : _changedTables;

    /// <summary>Row changes and transactions applied by this follower.</summary>
    public long Changes { get; private set; }

    public long Transactions { get; private set; }

    /// <summary>The last run stopped because it had taken a transaction past its pause's position before that position became known.</summary>
    public bool PauseMissed => _pause?.Missed ?? false;

    /// <summary>When the target first came within a second of the source (caught up, on a quiet source), in any run; null: not yet.</summary>
    public DateTimeOffset? WithinASecondAt { get; private set; }

    /// <param name="done">
    /// Asked whenever the reader runs dry and, at most every 100 ms, at a source transaction's end (a busy source
    /// never runs dry; <see cref="FollowPoint.CaughtUp"/> is false there).
    /// </param>
    /// <param name="stopBefore">
    /// Where to pause (a snapshot's position): before the first source transaction committed at or after it,
    /// or, unless marked, once everything received up to it is applied. Asked as the follow goes on, null
    /// while not known yet. Whole transactions before it are committed, then <paramref name="atPause"/> runs
    /// (the target then holds exactly what the source held there) and the follow goes on. Should the follow
    /// have taken a transaction past the position before it became known, it stops instead, with
    /// <see cref="PauseMissed"/> set.
    /// </param>
    /// <param name="truncatesWaitFor">
    /// A TRUNCATE waits for the task this returns (none: null) before it is applied: TRUNCATE is not MVCC-safe,
    /// and a verification reading the target in a snapshot would see the table empty. Every other change the
    /// apply makes is invisible to an older snapshot.
    /// </param>
    public async Task RunAsync(
        Func<FollowPoint, bool> done,
        CancellationToken cancellationToken,
        Func<PausePoint?>? stopBefore = null,
        Func<CancellationToken, Task>? atPause = null,
        Func<Task?>? truncatesWaitFor = null)
    {
        var failures = 0;
        var pause = _pause = new FollowPause(stopBefore, atPause);
        while (true)
        {
            var before = Changes;
            try
            {
                Watch.Carry = await Carry.OpenAsync(cancellationToken);
                _session ??= await FollowSession.OpenAsync(_source, _target, _slot, _publication, _folder, Lanes, Changes, Transactions, _reporter, cancellationToken, Carry.Carry, Sides);
                await Watch.OpenAsync(cancellationToken);
                await _guard.GuardedAsync(_session, token => FollowAsync(_session, done, pause, truncatesWaitFor, token), cancellationToken);
                return;
            }
            catch (Exception e)
            {
                // Whatever was half done in the session is rolled back with it; the next one starts from the stored position.
                await CloseAfterAsync(e);
                if (await Carry.EnumValuesAddedAsync(e, cancellationToken))
                {
                    continue;
                }

                var deadlock = Transience.IsDeadlock(e);
                if (!(Transience.IsTransient(e) || deadlock) || cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                failures = Changes > before ? 1 : failures + 1;
                if (failures > MaxReconnects)
                {
                    throw new PgRelocateException($"Follow lost its connection {MaxReconnects} times in a row ({Describe(e)}): check the network, then resume with 'pgrelocate migrate --resume ID'.", ExitCode.Failed, e);
                }

                _reporter.Warn(deadlock
                    ? $"The {Sides.Target} ended one of the follow's transactions to break a deadlock; applying again from the position stored in the {Sides.Target}."
                    : $"Follow lost a connection ({Describe(e)}); reconnecting and resuming from the position stored in the {Sides.Target}.");
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 * failures)), cancellationToken);
            }
        }
    }

    private static string Describe(Exception e) => e is Npgsql.PostgresException p ? p.MessageText : e.Message;

    /// <summary>Ends the follow's session, if one is open: its connections close and the slot is free again.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseSessionAsync();
        if (_carry is { } carry)
        {
            await carry.DisposeAsync();
        }
    }

    /// <summary>Closes what is left of a session that failed; closing may fail too, but <paramref name="failure"/> is what ended it and what is raised.</summary>
    private async Task CloseAfterAsync(Exception failure)
    {
        try
        {
            await CloseSessionAsync();
        }
        catch (Exception e)
        {
            _reporter.Debug($"Closing the follow's session after it failed ({Describe(failure)}) failed too: {Describe(e)}.");
        }
    }

    private async Task CloseSessionAsync()
    {
        await Watch.CloseAsync();
        await _guard.CloseAsync();

        if (_session is not { } session)
        {
            return;
        }

        _session = null;
        _marker = session.Applier?.CommittedMarker ?? _marker;
        _changedTables.UnionWith(session.Applier?.ChangedTables ?? []);
        await session.DisposeAsync();
    }

    /// <summary>Hands the session's changes on in order until <paramref name="done"/> says stop or the pause ends the run.</summary>
    private async Task FollowAsync(FollowSession session, Func<FollowPoint, bool> done, FollowPause pause, Func<Task?>? truncatesWaitFor, CancellationToken cancellationToken)
    {
        var lastAsked = DateTime.UtcNow;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!session.TryNext(out var change))
            {
                // 1. Nothing waiting: commit, then pause or stop where the follow stands, or wait for more.
                if (await StopsAtRestAsync(session, done, pause, cancellationToken))
                {
                    return;
                }

                await session.WaitForChangesAsync(cancellationToken);
                continue;
            }

            // 2. The next change handed on (or kept, or held back for the next run).
            var handed = await HandOnAsync(session, change, pause, truncatesWaitFor, cancellationToken);
            if (handed == Handed.PauseMissed)
            {
                return;
            }

            if (handed == Handed.Nothing)
            {
                continue;
            }

            // 3. Counted and written to status; at a source transaction's end, at most every 100 ms, asked whether to stop.
            Account(session);
            await TickAsync(session, caughtUp: false, cancellationToken);
            if (change is CommitChange && DateTime.UtcNow - lastAsked >= TimeSpan.FromMilliseconds(100))
            {
                lastAsked = DateTime.UtcNow;
                if (await StopsAtCommitAsync(session, done, lastAsked, cancellationToken))
                {
                    return;
                }
            }
        }
    }

    /// <summary>What handing a change on did.</summary>
    private enum Handed
    {
        /// <summary>Applied (or kept on disk): counted and written to status.</summary>
        Applied,

        /// <summary>Nothing to count yet (a streamed transaction rolled back, or one to replay).</summary>
        Nothing,

        /// <summary>Held back: the follow had passed its pause's position before it was known, and stops.</summary>
        PauseMissed,
    }

    /// <summary>
    /// With nothing waiting: whole transactions committed now (each lane sends a half-applied one's statements itself
    /// whenever its queue runs dry), then, caught up, the pause when no marker will come to reach it, and the condition.
    /// </summary>
    /// <returns>True when the run ends here.</returns>
    private async Task<bool> StopsAtRestAsync(FollowSession session, Func<FollowPoint, bool> done, FollowPause pause, CancellationToken cancellationToken)
    {
        await CommitAppliedAsync(session, cancellationToken);
        // Asked first without looking whether the source has more to send (a pause of 100 ms and a query): a
        // condition met already (the cutover's marker committed, the lag small enough) ends the run now, as on a busy source.
        if (await StopsAtCommitAsync(session, done, DateTime.UtcNow, cancellationToken))
        {
            return true;
        }

        var point = Seen(await PointAsync(session, cancellationToken));
        await TickAsync(session, point.CaughtUp, cancellationToken);
        if (pause.At is { Marked: false, At: var reached } && point.CaughtUp && point.Received >= reached && !await pause.HereAsync(session, reached, t => CommitAppliedAsync(session, t), cancellationToken))
        {
            return true;
        }

        return done(point);
    }

    /// <summary>At a source transaction's end on a busy source (it never runs dry): the condition asked, and what is applied committed when it says stop.</summary>
    /// <returns>True when the run ends here.</returns>
    private async Task<bool> StopsAtCommitAsync(FollowSession session, Func<FollowPoint, bool> done, DateTime asked, CancellationToken cancellationToken)
    {
        var applier = session.Applier;
        if (!done(Seen(new FollowPoint(false, session.Replication.LastReceivedLsn, applier.Position, applier.LagSeconds(asked) ?? double.PositiveInfinity, applier.CommittedMarker ?? _marker))))
        {
            return false;
        }

        await CommitAppliedAsync(session, cancellationToken);
        return true;
    }

    /// <summary>The point, noted in <see cref="WithinASecondAt"/> when it is the first within a second of the source.</summary>
    private FollowPoint Seen(FollowPoint point)
    {
        if (WithinASecondAt is null && (point.CaughtUp || point.LagSeconds < 1))
        {
            WithinASecondAt = DateTimeOffset.UtcNow;
        }

        return point;
    }

    /// <summary>Commits what is applied, confirms its position to the source and counts it.</summary>
    private async Task CommitAppliedAsync(FollowSession session, CancellationToken cancellationToken)
    {
        session.Confirm(await session.Applier.CommitAsync(cancellationToken));
        Account(session);
    }

    private async Task<Handed> HandOnAsync(FollowSession session, Change change, FollowPause pause, Func<Task?>? truncatesWaitFor, CancellationToken cancellationToken)
    {
        switch (change)
        {
            case StreamedChange part:
                // Kept on disk, and applied as it arrives when it can be (see StreamedTransactions).
                session.Confirm(await session.Streamed.AddAsync(part, cancellationToken));
                return Handed.Applied;
            case StreamAbortChange abort:
                await session.Streamed.AbortAsync(abort);
                return Handed.Nothing;
            case StreamCommitChange commit:
                return await CommitStreamedAsync(session, commit, pause, cancellationToken);
            default:
                return await ApplyChangeAsync(session, change, pause, truncatesWaitFor, cancellationToken);
        }
    }

    /// <summary>A streamed transaction's end: after the pause when it comes at or after it; committed, or replayed from disk.</summary>
    private async Task<Handed> CommitStreamedAsync(FollowSession session, StreamCommitChange commit, FollowPause pause, CancellationToken cancellationToken)
    {
        if (!await pause.BeforeAsync(session, commit.CommitLsn, t => CommitAppliedAsync(session, t), cancellationToken))
        {
            session.Held = commit;
            return Handed.PauseMissed;
        }

        var outcome = await session.Streamed.CommitAsync(commit, cancellationToken);
        if (outcome.Committed is not { } end)
        {
            session.Replay = outcome.Replay;
            return Handed.Nothing;
        }

        session.LastBegun = commit.CommitLsn;
        session.Confirm(end);
        return Handed.Applied;
    }

    /// <summary>A change of a transaction sent whole: its begin after the pause when it commits at or after it, a TRUNCATE after the comparison it waits for.</summary>
    private async Task<Handed> ApplyChangeAsync(FollowSession session, Change change, FollowPause pause, Func<Task?>? truncatesWaitFor, CancellationToken cancellationToken)
    {
        if (change is BeginChange b)
        {
            if (!await pause.BeforeAsync(session, b.CommitLsn, t => CommitAppliedAsync(session, t), cancellationToken))
            {
                // The next run starts with this transaction, which this run did not apply.
                session.Held = b;
                return Handed.PauseMissed;
            }

            session.LastBegun = b.CommitLsn;
        }

        if (change is TruncateChange && truncatesWaitFor?.Invoke() is { IsCompleted: false } comparison)
        {
            await WaitForAsync(comparison, session, cancellationToken);
        }

        var applier = session.Applier;
        await applier.ApplyAsync(change, cancellationToken);
        if (change is CommitChange && applier.GroupIsFull)
        {
            // The next changes are handed on while the group commits; wherever the follow stops, pauses or looks at
            // the target, it commits with CommitAsync, which waits for this one too.
            session.Confirm(await applier.CommitInBackgroundAsync(cancellationToken));
        }

        return Handed.Applied;
    }

    /// <summary>Waits for a task (a TRUNCATE waiting for a verification), still watching the slot and writing status.</summary>
    private async Task WaitForAsync(Task task, FollowSession session, CancellationToken cancellationToken)
    {
        while (!task.IsCompleted)
        {
            await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            await TickAsync(session, caughtUp: false, cancellationToken);
        }
    }

    private void Account(FollowSession session)
    {
        Changes = session.StartChanges + session.Applier.Changes;
        Transactions = session.StartTransactions + session.Applier.Transactions;
    }

    /// <summary>
    /// Whether everything the source sent is applied, and it has nothing more to send. The reader must stay idle
    /// across a short pause: a message that arrived as the position was read would show up in it. And the
    /// slot's sender must have read the source's WAL up to (nearly) its end: one still decoding a large
    /// transaction's WAL sends nothing for a while although the target is behind. The position read from the
    /// connection is never confirmed to the source: it can include a message the reader has not handed over
    /// yet (a busy machine can delay that past the pause), and the source would then never send it again after
    /// a reconnect. Only what is committed on the target is confirmed.
    /// </summary>
    private async Task<FollowPoint> PointAsync(FollowSession session, CancellationToken cancellationToken)
    {
        var (replication, reader, applier) = (session.Replication, session.Reader, session.Applier);
        var lag = applier.LagSeconds(DateTime.UtcNow) ?? double.PositiveInfinity;
        var received = reader.Received;
        var marker = applier.CommittedMarker ?? _marker;
        if (!reader.Waiting || !reader.BetweenTransactions || session.Taken != received || session.Replay is not null || session.Held is not null || !applier.Idle)
        {
            return new FollowPoint(false, replication.LastReceivedLsn, applier.Position, lag, marker);
        }

        var lsn = replication.LastReceivedLsn;
        await Task.Delay(100, cancellationToken);
        if (!reader.Waiting || reader.Received != received || await Watch.UnsentWalAsync(cancellationToken) > SourceWatch.UnsentWhenCaughtUp)
        {
            return new FollowPoint(false, lsn, applier.Position, lag, marker);
        }

        return new FollowPoint(true, lsn, applier.Position, 0, marker);
    }

    /// <summary>Writes the status as the follow goes (the source is watched by the guard, see <see cref="FollowGuard"/>).</summary>
    private Task TickAsync(FollowSession session, bool caughtUp, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = DateTime.UtcNow;
        _guard.Ticked(now);
        var applier = session.Applier;
        Status.WriteIfDue(
            now,
            Changes + applier.Pending + session.Streamed.Pending,
            Transactions,
            applier.Position,
            caughtUp ? 0 : applier.LagSeconds(now),
            Watch.LagBytes,
            Watch.Retained);
        return Task.CompletedTask;
    }
}

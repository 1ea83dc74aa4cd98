using System.Net.Sockets;
using System.Threading.Channels;
using Npgsql;
using Npgsql.Replication;
using NpgsqlTypes;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// Where a follow stands, for the condition that ends it: <see cref="CaughtUp"/> when the source has sent
/// nothing new for a moment and all of it is applied; otherwise <see cref="LagSeconds"/> is how far behind the
/// target is in time (infinite before the first transaction), which a busy source's follow uses, never idle.
/// <see cref="Marker"/> is the last marker (<see cref="MarkerChange"/>) committed on the target: everything the
/// source committed before it is committed there too.
/// </summary>
public sealed record FollowPoint(bool CaughtUp, NpgsqlLogSequenceNumber Received, NpgsqlLogSequenceNumber Applied, double LagSeconds, string? Marker = null);

/// <summary>
/// Where a follow pauses (a snapshot's position). <see cref="Marked"/>: a transaction committed after it is
/// sure to come (a marker was written into the source's WAL), so only reaching one pauses the follow, which is
/// exact; otherwise a quiet source's follow also pauses once it has received past the position with nothing
/// more coming.
/// </summary>
public sealed record PausePoint(NpgsqlLogSequenceNumber At, bool Marked);

/// <summary>
/// Streams the slot's changes into the target until a condition says stop: one reader, one applier (over
/// <see cref="Lanes"/> connections), a bounded channel between them. A dropped connection on either side (a network cut, a restarted server, a
/// terminated session) reconnects and resumes from the position stored in the target, skipping what was
/// applied; anything else stops the follow with a message. It watches the source as it goes: the WAL the slot
/// holds, and tables created after the publication.
/// </summary>
public sealed class Follower(PgConnectionInfo source, PgConnectionInfo target, string slot, string publication, string folder, IReporter reporter) : IAsyncDisposable
{
    private const int MaxReconnects = 30;
    private readonly HashSet<string> _changedTables = new(StringComparer.Ordinal);
    private DateTime _lastWatch = DateTime.MinValue;
    private DateTime _lastTablesCheck = DateTime.MinValue;
    private DateTime _lastWarn = DateTime.MinValue;
    private DateTime _lastStatus = DateTime.MinValue;
    private long _lastChanges;
    private long _lastTransactions;
    private long _lagBytes;
    private long _retained;
    private string? _marker;
    private Session? _session;

    /// <summary>Stop (and let the slot go) once it holds more WAL than this; null: only when the server is about to invalidate it.</summary>
    public long? MaxRetainedBytes { get; init; }

    /// <summary>Connections that apply side by side, each for its own tables (see <see cref="ApplyRoutes"/>).</summary>
    public int Lanes { get; init; } = 1;

    /// <summary>The phase shown by status ("follow", "cutover").</summary>
    public string Phase { get; init; } = "follow";

    /// <summary>
    /// Moves the follow into another phase (the verification while following): status and the lag's history
    /// say so at once, from the last lag measured.
    /// </summary>
    public void MarkPhase(string phase)
    {
        _phase = phase;
        _lastStatus = DateTime.MinValue;
        History.Add(new Migration.LagSample(DateTimeOffset.UtcNow, phase, _lagBytes, _lastLagSeconds, 0));
    }

    private string? _phase;
    private double _lastLagSeconds;

    private string CurrentPhase => _phase ?? Phase;

    /// <summary>Tables the follow changed ("schema.table").</summary>
    public IReadOnlyCollection<string> ChangedTables => _session is { } open ? [.. _changedTables.Union(open.Applier.ChangedTables)] : _changedTables;

    /// <summary>Row changes and transactions applied by this follower.</summary>
    public long Changes { get; private set; }

    public long Transactions { get; private set; }

    /// <summary>The last run stopped because it had taken a transaction past its pause's position before that position became known.</summary>
    public bool PauseMissed { get; private set; }

    /// <summary>Samples of the lag for the report's chart: about one every two seconds, bounded however long the follow runs.</summary>
    public Migration.LagHistory History { get; private set; } = new();

    /// <summary>
    /// Hands the follow to another phase (the cutover) with a history of its own, keeping the session open; the
    /// last phase's history stays with whoever recorded it.
    /// </summary>
    public void StartPhase(string phase)
    {
        History = new();
        MarkPhase(phase);
    }

    /// <summary>
    /// Between two steps: the session stays open (the replication stream, the apply connections), but the
    /// connection that watches the source is closed, as making the source read-only ends every client session
    /// there; the next run opens it again. Never throws: a session that broke is opened again by the next run.
    /// </summary>
    public async Task ParkAsync()
    {
        if (_session is { Watch: { } watch } session)
        {
            session.Watch = null;
            await watch.DisposeAsync();
        }
    }

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
        var pause = new Pause(stopBefore, atPause);
        PauseMissed = false;
        while (true)
        {
            var before = Changes;
            try
            {
                _session ??= await OpenSessionAsync(cancellationToken);
                await FollowAsync(_session, done, pause, truncatesWaitFor, cancellationToken);
                return;
            }
            catch (Exception e)
            {
                // Whatever was half done in the session is rolled back with it; the next one starts from the stored position.
                await CloseSessionAsync();
                if (!IsTransient(e) || cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                failures = Changes > before ? 1 : failures + 1;
                if (failures > MaxReconnects)
                {
                    throw new PgRelocateException($"Follow lost its connection {MaxReconnects} times in a row ({Describe(e)}): check the network, then resume with 'pgrelocate migrate --resume ID'.", ExitCode.Failed, e);
                }

                reporter.Warn($"Follow lost a connection ({Describe(e)}); reconnecting and resuming from the position stored in the target.");
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 * failures)), cancellationToken);
            }
        }
    }

    /// <summary>A dropped connection, a restarting server or a terminated session: worth reconnecting.</summary>
    internal static bool IsTransient(Exception e) => e switch
    {
        PgRelocateException p => p.IsTransient,
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState is "57P01" or "57P02" or "57P03" or "53300",
        NpgsqlException n => n.IsTransient || n.InnerException is IOException or SocketException or TimeoutException || n.InnerException is null,
        IOException or SocketException or EndOfStreamException or TimeoutException => true,
        _ => false,
    };

    private static string Describe(Exception e) => e is PostgresException p ? p.MessageText : e.Message;

    /// <summary>Ends the follow's session, if one is open: its connections close and the slot is free again.</summary>
    public async ValueTask DisposeAsync() => await CloseSessionAsync();

    private async Task CloseSessionAsync()
    {
        if (_session is not { } session)
        {
            return;
        }

        _session = null;
        _marker = session.Applier.CommittedMarker ?? _marker;
        foreach (var t in session.Applier.ChangedTables)
        {
            _changedTables.Add(t);
        }

        await session.DisposeAsync();
    }

    /// <summary>
    /// What one follow session holds: the apply connections and their applier, the replication stream and the
    /// reader filling the channel, the watch connection. It stays open from one run to the next (a pause, the
    /// verification, the wait for the cutover), so the source does not decode its WAL again from the slot's
    /// restart position each time; a failure or <see cref="DisposeAsync"/> closes it.
    /// </summary>
    private sealed class Session : IAsyncDisposable
    {
        public CancellationTokenSource Stop { get; } = new();

        public List<NpgsqlConnection> Connections { get; } = [];

        /// <summary>The source session that watches the slot and the tables; null while parked (see <see cref="ParkAsync"/>).</summary>
        public NpgsqlConnection? Watch { get; set; }

        public LogicalReplicationConnection Replication { get; set; } = null!;

        public Task Reading { get; set; } = Task.CompletedTask;

        public Channel<Change> Channel { get; } = System.Threading.Channels.Channel.CreateBounded<Change>(new BoundedChannelOptions(4096) { SingleReader = true, SingleWriter = true });

        public ChangeReader Reader { get; set; } = null!;

        public ChangeApplier Applier { get; set; } = null!;

        /// <summary>The follower's totals when the session started (the applier counts from there).</summary>
        public long StartChanges { get; init; }

        public long StartTransactions { get; init; }

        /// <summary>The commit position of the last source transaction taken, for a pause that comes too late.</summary>
        public ulong LastBegun { get; set; }

        /// <summary>Changes taken from the channel and handled: all of them once this equals what the reader read.</summary>
        public long Taken { get; set; }

        /// <summary>Large transactions the source streamed before their commit, on disk until they end.</summary>
        public TransactionSpool Spool { get; init; } = null!;

        /// <summary>The committed streamed transaction being applied, taken before the channel.</summary>
        public IEnumerator<Change>? Replay { get; set; }

        /// <summary>A transaction's begin taken but not applied (a pause missed there): the next run starts with it.</summary>
        public Change? Held { get; set; }

        /// <summary>The next change: one held back, the rest of a streamed transaction, or the channel's next.</summary>
        public bool TryNext(out Change change)
        {
            if (Held is { } held)
            {
                Held = null;
                change = held;
                return true;
            }

            if (Replay is { } replay)
            {
                if (replay.MoveNext())
                {
                    change = replay.Current;
                    return true;
                }

                replay.Dispose();
                Replay = null;
            }

            if (Channel.Reader.TryRead(out change!))
            {
                Taken++;
                return true;
            }

            return false;
        }

        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            await Reading;
            Replay?.Dispose();
            Spool?.Dispose();
            if (Applier is not null)
            {
                await Applier.StopAsync();
            }

            if (Replication is not null)
            {
                await Replication.DisposeAsync();
            }

            if (Watch is not null)
            {
                await Watch.DisposeAsync();
            }

            foreach (var c in Connections)
            {
                await c.DisposeAsync();
            }

            Connections.Clear();
            Stop.Dispose();
        }
    }

    private async Task<Session> OpenSessionAsync(CancellationToken cancellationToken)
    {
        var session = new Session { StartChanges = Changes, StartTransactions = Transactions, Spool = new TransactionSpool(folder) };
        try
        {
            for (var i = 0; i < Math.Max(1, Lanes); i++)
            {
                session.Connections.Add(await OpenApplyAsync(i == 0 ? "pgrelocate online apply" : $"pgrelocate online apply {i + 1}", cancellationToken));
            }

            var stored = await TargetState.ReadAsync(session.Connections[0], slot, cancellationToken)
                ?? throw new PgRelocateException($"The target has no position for {slot} (its {OnlineNames.TargetSchema} schema is gone): cancel this migration and start a new one.");
            reporter.Info($"Streaming the source's changes from {stored.Lsn}, the position stored in the target.");
            session.Watch = await OpenWatchAsync(cancellationToken);
            session.Replication = new LogicalReplicationConnection(source.WithApplicationName("pgrelocate online").ToNpgsqlConnectionString())
            {
                WalReceiverStatusInterval = TimeSpan.FromSeconds(1),
            };
            try
            {
                await session.Replication.Open(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Db.Describe(e, source, "source");
            }

            var reader = session.Reader = new ChangeReader(session.Replication, slot, publication);
            var writer = session.Channel.Writer;
            var stop = session.Stop.Token;
            session.Reading = Task.Run(
                async () =>
                {
                    try
                    {
                        await reader.RunAsync(stored.Lsn, writer, stop);
                        writer.TryComplete(new EndOfStreamException("the source ended the replication stream"));
                    }
                    catch (Exception e)
                    {
                        writer.TryComplete(e);
                    }
                },
                CancellationToken.None);
            session.Applier = await ChangeApplier.StartAsync(session.Connections, slot, stored.Lsn, cancellationToken, ct => OpenApplyAsync("pgrelocate online apply streamed", ct));
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    private Task<NpgsqlConnection> OpenWatchAsync(CancellationToken cancellationToken) =>
        Db.OpenAsync(source.WithApplicationName("pgrelocate online watch"), "source", cancellationToken);

    private async Task FollowAsync(Session session, Func<FollowPoint, bool> done, Pause pause, Func<Task?>? truncatesWaitFor, CancellationToken cancellationToken)
    {
        var watch = session.Watch ??= await OpenWatchAsync(cancellationToken);
        var replication = session.Replication;
        var channel = session.Channel;
        var applier = session.Applier;
        var startChanges = session.StartChanges;
        var startTransactions = session.StartTransactions;
        var lastAsked = DateTime.UtcNow;

        // Pauses here when the pause's position is reached; false when the follow must stop (a missed pause).
        async Task<bool> PauseAsync(NpgsqlLogSequenceNumber at)
        {
            if (session.LastBegun >= (ulong)at || applier.Position > at)
            {
                PauseMissed = true;
                return false;
            }

            Confirm(replication, await applier.CommitAsync(cancellationToken));
            Account(applier, startChanges, startTransactions);
            // Reached only once what it does there is done: a reconnect before then pauses again at the same place.
            await pause.Then(cancellationToken);
            pause.Reached = true;
            return true;
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (session.TryNext(out var change))
            {
                switch (change)
                {
                    case StreamedChange streamed:
                        // Kept on disk, and applied as it arrives when it can be (see ChangeApplier).
                        session.Spool.Add(streamed);
                        Confirm(replication, await applier.ApplyStreamedAsync(streamed, cancellationToken));
                        Account(applier, startChanges, startTransactions);
                        await TickAsync(watch, applier, caughtUp: false, cancellationToken);
                        continue;
                    case StreamAbortChange abort:
                        session.Spool.Abort(abort);
                        await applier.AbortStreamedAsync(abort);
                        continue;
                    case StreamCommitChange commit:
                        if (pause.At is { At: var pauseAt } && (commit.CommitLsn >= (ulong)pauseAt || session.LastBegun >= (ulong)pauseAt) && !await PauseAsync(pauseAt))
                        {
                            session.Held = commit;
                            return;
                        }

                        if (await applier.CommitStreamedAsync(commit, cancellationToken) is { } end)
                        {
                            Migration.FaultInjection.At("follow", "streamed-committed");
                            session.Spool.Drop(commit.Xid);
                            session.LastBegun = commit.CommitLsn;
                            Confirm(replication, end);
                            Account(applier, startChanges, startTransactions);
                            await TickAsync(watch, applier, caughtUp: false, cancellationToken);
                        }
                        else
                        {
                            session.Replay = session.Spool.Commit(commit);
                        }

                        continue;
                }

                if (change is BeginChange b)
                {
                    if (pause.At is { At: var at } && (b.CommitLsn >= (ulong)at || session.LastBegun >= (ulong)at) && !await PauseAsync(at))
                    {
                        // The next run starts with this transaction, which this run did not apply.
                        session.Held = b;
                        return;
                    }

                    session.LastBegun = b.CommitLsn;
                }

                if (change is TruncateChange && truncatesWaitFor?.Invoke() is { IsCompleted: false } comparison)
                {
                    await WaitForAsync(comparison, watch, applier, cancellationToken);
                }

                await applier.ApplyAsync(change, cancellationToken);
                if (change is CommitChange && applier.GroupIsFull)
                {
                    Confirm(replication, await applier.CommitAsync(cancellationToken));
                }

                Account(applier, startChanges, startTransactions);
                await TickAsync(watch, applier, caughtUp: false, cancellationToken);
                if (change is CommitChange && DateTime.UtcNow - lastAsked >= TimeSpan.FromMilliseconds(100))
                {
                    lastAsked = DateTime.UtcNow;
                    if (done(new FollowPoint(false, replication.LastReceivedLsn, applier.Position, applier.LagSeconds(lastAsked) ?? double.PositiveInfinity, applier.CommittedMarker ?? _marker)))
                    {
                        Confirm(replication, await applier.CommitAsync(cancellationToken));
                        Account(applier, startChanges, startTransactions);
                        return;
                    }
                }

                continue;
            }

            // Nothing waiting: commit whole transactions now (each lane sends a half-applied one's statements
            // itself whenever its queue runs dry).
            Confirm(replication, await applier.CommitAsync(cancellationToken));
            Account(applier, startChanges, startTransactions);
            var point = await PointAsync(session, cancellationToken);
            await TickAsync(watch, applier, point.CaughtUp, cancellationToken);
            if (pause.At is { Marked: false, At: var reached } && point.CaughtUp && point.Received >= reached && !await PauseAsync(reached))
            {
                return;
            }

            if (done(point))
            {
                return;
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(200);
            try
            {
                if (!await channel.Reader.WaitToReadAsync(wait.Token))
                {
                    await channel.Reader.Completion;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Waited long enough: check the condition again.
            }
        }
    }

    /// <summary>Where a follow pauses and what it does there, kept across the sessions of one run (a reconnect does not pause again).</summary>
    private sealed class Pause(Func<PausePoint?>? at, Func<CancellationToken, Task>? then)
    {
        public bool Reached { get; set; }

        /// <summary>The position to pause at, once known and until reached.</summary>
        public PausePoint? At => Reached ? null : at?.Invoke();

        public Task Then(CancellationToken cancellationToken) => then?.Invoke(cancellationToken) ?? Task.CompletedTask;
    }

    /// <summary>Waits for a task (a TRUNCATE waiting for a verification), still watching the slot and writing status.</summary>
    private async Task WaitForAsync(Task task, NpgsqlConnection watch, ChangeApplier applier, CancellationToken cancellationToken)
    {
        while (!task.IsCompleted)
        {
            await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            await TickAsync(watch, applier, caughtUp: false, cancellationToken);
        }
    }

    private void Account(ChangeApplier applier, long startChanges, long startTransactions)
    {
        Changes = startChanges + applier.Changes;
        Transactions = startTransactions + applier.Transactions;
    }

    private static void Confirm(LogicalReplicationConnection replication, NpgsqlLogSequenceNumber? applied)
    {
        if (applied is { } lsn)
        {
            // Only what is committed on the target: the source may now recycle the WAL before it.
            replication.SetReplicationStatus(lsn);
        }
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
    private async Task<FollowPoint> PointAsync(Session session, CancellationToken cancellationToken)
    {
        var (replication, reader, applier, watch) = (session.Replication, session.Reader, session.Applier, session.Watch!);
        var lag = applier.LagSeconds(DateTime.UtcNow) ?? double.PositiveInfinity;
        var received = reader.Received;
        var marker = applier.CommittedMarker ?? _marker;
        if (!reader.Waiting || !reader.BetweenTransactions || session.Taken != received || session.Replay is not null || session.Held is not null || !applier.Idle)
        {
            return new FollowPoint(false, replication.LastReceivedLsn, applier.Position, lag, marker);
        }

        var lsn = replication.LastReceivedLsn;
        await Task.Delay(100, cancellationToken);
        if (!reader.Waiting || reader.Received != received || await UnsentWalAsync(watch, cancellationToken) > UnsentWhenCaughtUp)
        {
            return new FollowPoint(false, lsn, applier.Position, lag, marker);
        }

        return new FollowPoint(true, lsn, applier.Position, 0, marker);
    }

    /// <summary>Unread WAL that still counts as caught up: what a busy source writes while the sender reads.</summary>
    private const long UnsentWhenCaughtUp = 1L << 20;

    private async Task<long> UnsentWalAsync(NpgsqlConnection watch, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(OnlineSql.UnsentWal, watch);
        cmd.Parameters.AddWithValue("slot", slot);
        return await cmd.ExecuteScalarAsync(cancellationToken) is long unsent ? unsent : 0;
    }

    private async Task TickAsync(NpgsqlConnection watch, ChangeApplier applier, bool caughtUp, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        if (now - _lastWatch >= TimeSpan.FromSeconds(2))
        {
            _lastWatch = now;
            await WatchSlotAsync(watch, cancellationToken);
        }

        if (now - _lastTablesCheck >= TimeSpan.FromSeconds(10))
        {
            _lastTablesCheck = now;
            var added = await SourceSide.UnpublishedTablesAsync(watch, publication, cancellationToken);
            if (added.Count > 0)
            {
                throw new PgRelocateException($"Follow stopped: table{(added.Count == 1 ? "" : "s")} {string.Join(", ", added)} appeared on the source after the copy, and {(added.Count == 1 ? "its" : "their")} changes would not be carried. The replication slot and publication are removed; start the migration again (the new tables are copied with the rest).", ExitCode.Failed);
            }
        }

        if (now - _lastStatus >= TimeSpan.FromSeconds(1))
        {
            var seconds = _lastStatus == DateTime.MinValue ? 1 : (now - _lastStatus).TotalSeconds;
            var changes = Changes + applier.Pending;
            var status = new OnlineStatus
            {
                Phase = CurrentPhase,
                AppliedLsn = applier.Position.ToString(),
                LagBytes = _lagBytes,
                LagSeconds = caughtUp ? 0 : applier.LagSeconds(now) ?? _lastLagSeconds,
                RetainedBytes = _retained,
                ChangesPerSecond = Math.Max(0, changes - _lastChanges) / seconds,
                TransactionsPerSecond = Math.Max(0, Transactions - _lastTransactions) / seconds,
                Changes = changes,
                Transactions = Transactions,
            };
            _lastStatus = now;
            _lastChanges = changes;
            _lastTransactions = Transactions;
            _lastLagSeconds = status.LagSeconds;
            status.Write(folder);
            reporter.Progress(new ProgressUpdate(CurrentPhase, changes, null, "changes", status.Describe()));
            History.Add(new Migration.LagSample(DateTimeOffset.UtcNow, CurrentPhase, status.LagBytes, status.LagSeconds, status.ChangesPerSecond));
        }
    }

    /// <summary>Reads the slot's lag and retained WAL; stops before the slot endangers the source's disk.</summary>
    private async Task WatchSlotAsync(NpgsqlConnection watch, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(
            """
            SELECT coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint,
                   coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn), 0)::bigint,
                   CASE WHEN current_setting('server_version_num')::int >= 130000 THEN (to_jsonb(s) ->> 'wal_status') END,
                   CASE WHEN current_setting('server_version_num')::int >= 130000 THEN (to_jsonb(s) ->> 'safe_wal_size')::bigint END
            FROM pg_catalog.pg_replication_slots s WHERE slot_name = @slot
            """, watch);
        cmd.Parameters.AddWithValue("slot", slot);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
        {
            throw new PgRelocateException($"The replication slot {slot} is gone from the source (dropped by someone, or invalidated): the target can no longer follow it. Cancel this migration and start a new one.");
        }

        _lagBytes = r.GetInt64(0);
        _retained = r.GetInt64(1);
        var walStatus = r.IsDBNull(2) ? null : r.GetString(2);
        long? safe = r.IsDBNull(3) ? null : r.GetInt64(3);
        if (walStatus is "lost" or "unreserved" || safe is < 64L * 1024 * 1024 || _retained > MaxRetainedBytes)
        {
            throw SourceEndangered(_retained, MaxRetainedBytes, walStatus, safe);
        }

        if (_retained > 1L << 30 && DateTime.UtcNow - _lastWarn > TimeSpan.FromMinutes(1))
        {
            _lastWarn = DateTime.UtcNow;
            reporter.Warn($"The replication slot holds {Units.Bytes(_retained)} of WAL on the source: watch its disk.");
        }
    }

    /// <summary>The stop that protects the source's disk, saying why: over the limit, the slot's status, what is left.</summary>
    internal static PgRelocateException SourceEndangered(long retained, long? max, string? walStatus, long? safe)
    {
        var why = new[]
        {
            retained > max ? $"over --max-retained-wal {Units.Bytes(max.Value)}" : null,
            walStatus is null ? null : "status " + walStatus,
            safe is null ? null : Units.Bytes(safe.Value) + " left before the server invalidates it",
        }.Where(w => w is not null);
        return new PgRelocateException($"Follow stopped to protect the source: the slot holds {Units.Bytes(retained)} of WAL ({string.Join(", ", why)}). The slot is removed so the source can recycle its WAL; start again when the target can keep up (a closer network, a larger --max-retained-wal).", ExitCode.Failed);
    }

    /// <summary>
    /// An apply connection, unpooled: closing it ends its session, so the server rolls back at once whatever it
    /// held (a pooled one would keep an abandoned transaction, and its locks, until it is used again).
    /// </summary>
    private async Task<NpgsqlConnection> OpenApplyAsync(string applicationName, CancellationToken cancellationToken)
    {
        var info = target.WithApplicationName(applicationName);
        var builder = new NpgsqlConnectionStringBuilder(info.ToNpgsqlConnectionString()) { MaxAutoPrepare = 256, AutoPrepareMinUsages = 2, Pooling = false };
        var conn = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await conn.OpenAsync(cancellationToken);
            await Db.ExecuteAsync(conn, TargetWrites.SessionSettings, cancellationToken);
            return conn;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await conn.DisposeAsync();
            throw e is PostgresException or NpgsqlException or SocketException ? Db.Describe(e, target, "target") : e;
        }
    }
}

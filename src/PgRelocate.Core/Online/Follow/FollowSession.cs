using System.Threading.Channels;
using Npgsql;
using Npgsql.Replication;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Online.Apply;
using PgRelocate.Progress;

namespace PgRelocate.Online.Follow;

/// <summary>
/// What one follow session holds: the apply connections and their applier, the streamed transactions, the
/// replication stream and the reader filling the channel. It stays open from one run to the next (a pause, the
/// verification, the wait for the cutover), so the source does not decode its WAL again from the slot's restart
/// position each time; a failure or <see cref="DisposeAsync"/> closes it.
/// </summary>
internal sealed class FollowSession : IAsyncDisposable
{
    /// <summary>What the apply's sessions on the target are called: this, alone or followed by the lane's number or "streamed".</summary>
    internal const string ApplyApplicationName = "pgrelocate online apply";

    private readonly CancellationTokenSource _stop = new();
    private readonly List<NpgsqlConnection> _connections = [];
    private readonly Channel<Change> _channel = Channel.CreateBounded<Change>(new BoundedChannelOptions(4096) { SingleReader = true, SingleWriter = true });
    private Task _reading = Task.CompletedTask;

    private FollowSession(long startChanges, long startTransactions)
    {
        StartChanges = startChanges;
        StartTransactions = startTransactions;
    }

    public LogicalReplicationConnection Replication { get; private set; } = null!;

    public ChangeReader Reader { get; private set; } = null!;

    public ChangeApplier Applier { get; private set; } = null!;

    public StreamedTransactions Streamed { get; private set; } = null!;

    public ChannelReader<Change> Changes => _channel.Reader;

    /// <summary>The apply connections' server processes on the target, to see what they wait for.</summary>
    /// <remarks>Only the open ones: a lane whose session the server ended (its failure is the follow's to report) has none.</remarks>
    public IReadOnlyList<int> ApplyProcessIds => [.. _connections.Where(c => c.FullState.HasFlag(System.Data.ConnectionState.Open)).Select(c => c.ProcessID)];

    /// <summary>The follower's totals when the session started (the applier counts from there).</summary>
    public long StartChanges { get; }

    public long StartTransactions { get; }

    /// <summary>The commit position of the last source transaction taken, for a pause that comes too late.</summary>
    public ulong LastBegun { get; set; }

    /// <summary>Changes taken from the channel and handled: all of them once this equals what the reader read.</summary>
    public long Taken { get; private set; }

    /// <summary>The committed streamed transaction being applied from the spool, taken before the channel.</summary>
    public IEnumerator<Change>? Replay { get; set; }

    /// <summary>A transaction's begin taken but not applied (a pause missed there): the next run starts with it.</summary>
    public Change? Held { get; set; }

    /// <summary>
    /// Opens the apply connections (<paramref name="lanes"/>, unpooled), reads the position stored in the target,
    /// disables again any trigger its record lists that a killed run left enabled, and starts reading the slot from there.
    /// </summary>
    public static async Task<FollowSession> OpenAsync(
        PgConnectionInfo source, PgConnectionInfo target, string slot, string publication, string folder, int lanes,
        long startChanges, long startTransactions, IReporter reporter, CancellationToken cancellationToken, SchemaCarry? carry = null, FollowSides? sides = null)
    {
        var (from, to) = sides ?? FollowSides.Forward;
        var session = new FollowSession(startChanges, startTransactions);
        try
        {
            for (var i = 0; i < Math.Max(1, lanes); i++)
            {
                session._connections.Add(await OpenApplyAsync(target, to, i == 0 ? ApplyApplicationName : $"{ApplyApplicationName} {i + 1}", cancellationToken));
            }

            var first = session._connections[0];
            var stored = await TargetState.ReadAsync(first, slot, cancellationToken)
                ?? throw new PgRelocateException($"The {to} has no position for {slot} (its {OnlineNames.TargetSchema} schema is gone): cancel this migration and start a new one.");
            // The triggers the target's record lists, all disabled before the first change is applied: a run killed
            // while it disabled them (or re-enabled them at the cutover) left some enabled.
            await TargetState.DisableAsync(first, cancellationToken);
            reporter.Info($"Streaming the {from}'s changes from {stored.Lsn}, the position stored in the {to}.");
            ApplyRoutes routes;
            await using (var writes = session._connections.Count > 1 ? await Db.OpenAsync(source, from, cancellationToken) : null)
            {
                routes = await ApplyRoutes.ReadAsync(first, writes, session._connections.Count, cancellationToken);
            }
            var positions = await TargetState.TablePositionsAsync(first, slot, cancellationToken);
            if (carry is not null)
            {
                await carry.RefreshAsync(first, cancellationToken);
                carry.Positions = positions;
            }

            session.Applier = new ChangeApplier(session._connections.Select(c => new ApplyLane(c, slot, positions, sides: sides) { Carry = carry }).ToList(), slot, stored.Lsn, routes, carry);
            session.Streamed = new StreamedTransactions(
                new TransactionSpool(folder),
                session.Applier,
                slot,
                stored.Lsn,
                async ct => new ApplyLane(await OpenApplyAsync(target, to, $"{ApplyApplicationName} streamed", ct), slot, positions, bookkeepingAtCommit: true, ownsConnection: true, sides: sides) { Carry = carry });

            session.Replication = await Db.OpenReplicationAsync(source, from, "pgrelocate online", cancellationToken);
            var stop = session._stop.Token;
            var reader = session.Reader = new ChangeReader(ChangeReader.Stream(session.Replication, slot, publication, stored.Lsn, stop));
            var writer = session._channel.Writer;
            session._reading = Task.Run(
                async () =>
                {
                    try
                    {
                        await reader.RunAsync(writer, stop);
                        writer.TryComplete(new EndOfStreamException($"the {from} ended the replication stream"));
                    }
                    catch (Exception e)
                    {
                        writer.TryComplete(e);
                    }
                },
                CancellationToken.None);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

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

        if (_channel.Reader.TryRead(out change!))
        {
            Taken++;
            return true;
        }

        return false;
    }

    /// <summary>Waits up to 200 ms for the reader to hand over a change; a reader that failed throws its error here.</summary>
    public async Task WaitForChangesAsync(CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(200);
        try
        {
            if (!await Changes.WaitToReadAsync(wait.Token))
            {
                await Changes.Completion;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Waited long enough: check the condition again.
        }
    }

    /// <summary>Tells the source what is committed on the target: it may recycle the WAL before it.</summary>
    public void Confirm(NpgsqlTypes.NpgsqlLogSequenceNumber? applied)
    {
        if (applied is { } lsn)
        {
            Replication.SetReplicationStatus(lsn);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reading;
        Replay?.Dispose();
        if (Streamed is not null)
        {
            await Streamed.DisposeAsync();
        }

        if (Applier is not null)
        {
            await Applier.StopAsync();
        }

        if (Replication is not null)
        {
            await Replication.DisposeAsync();
        }

        foreach (var c in _connections)
        {
            await c.DisposeAsync();
        }

        _connections.Clear();
        _stop.Dispose();
    }

    /// <summary>An apply connection (unpooled, as every session of the tool: closing it ends its session, so the server rolls back at once whatever it held).</summary>
    private static async Task<NpgsqlConnection> OpenApplyAsync(PgConnectionInfo target, string side, string applicationName, CancellationToken cancellationToken)
    {
        var conn = await Db.OpenAsync(target, side, new SessionOptions { ApplicationName = applicationName, AutoPrepare = 256 }, cancellationToken);
        try
        {
            await Db.ExecuteAsync(conn, TargetWrites.SessionSettings, cancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }
}

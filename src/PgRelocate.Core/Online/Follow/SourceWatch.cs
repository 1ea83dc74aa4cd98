using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Online.Follow;

/// <summary>
/// Watches the source while a follow runs, on a session of its own: the WAL the slot holds (stopping the follow
/// before the slot endangers the source's disk), how far the slot's sender has read, and tables created after
/// the publication. It lives as long as its follower; its session is opened by the follow's session and closed
/// with it (<see cref="CloseAsync"/>).
/// </summary>
/// <param name="applicationName">What its session is called (see <see cref="Follower.SourceSessions"/>).</param>
internal sealed class SourceWatch(PgConnectionInfo source, string slot, string publication, IReporter reporter, FollowSides? sides = null, string? applicationName = null)
{
    private readonly FollowSides _sides = sides ?? FollowSides.Forward;

    /// <summary>Unread WAL that still counts as caught up: what a busy source writes while the sender reads.</summary>
    public const long UnsentWhenCaughtUp = 1L << 20;

    /// <summary>One statement at a time on the session: the follow asks how far the sender has read while its guard watches.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);
    private NpgsqlConnection? _session;
    private DateTime _lastSlot = DateTime.MinValue;
    private DateTime _lastTables = DateTime.MinValue;

    /// <summary>
    /// How often the tables are looked at: fifty times what the last look took, from 2 to 10 seconds. On a small
    /// catalog a new table is carried within seconds; on a large one the look takes a fiftieth of a session at most.
    /// </summary>
    private TimeSpan _tablesEvery = TablesEveryLeast;

    private static readonly TimeSpan TablesEveryLeast = TimeSpan.FromSeconds(2), TablesEveryMost = TimeSpan.FromSeconds(10);
    private DateTime _lastWarn = DateTime.MinValue;

    /// <summary>Stop (and let the slot go) once it holds more WAL than this; null: only when the server is about to invalidate it.</summary>
    public long? MaxRetainedBytes { get; init; }

    /// <summary>Carries new tables to the target (see <see cref="Apply.SchemaCarry"/>); null: a new table stops the follow.</summary>
    public Apply.SchemaCarry? Carry { get; set; }

    /// <summary>WAL the source wrote that the target has not confirmed, at the last look.</summary>
    public long LagBytes { get => Interlocked.Read(ref _lagBytes); private set => Interlocked.Exchange(ref _lagBytes, value); }

    private long _lagBytes;
    private long _retained;

    /// <summary>WAL the slot holds on the source, at the last look.</summary>
    public long Retained { get => Interlocked.Read(ref _retained); private set => Interlocked.Exchange(ref _retained, value); }

    /// <summary>Opens the watch's session, unless open.</summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _session ??= await Db.OpenAsync(source.WithApplicationName(applicationName ?? "pgrelocate online watch"), _sides.Source, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the watch's session; the next run opens it again.</summary>
    public async Task CloseAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_session is { } session)
            {
                _session = null;
                await session.DisposeAsync();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Looks at the slot every 2 seconds and for new tables every 2 to 10 (see <see cref="_tablesEvery"/>).</summary>
    public async Task TickAsync(DateTime now, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await LookAsync(now, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task LookAsync(DateTime now, CancellationToken cancellationToken)
    {
        if (now - _lastSlot >= TimeSpan.FromSeconds(2))
        {
            _lastSlot = now;
            await WatchSlotAsync(cancellationToken);
        }

        if (now - _lastTables >= _tablesEvery)
        {
            _lastTables = now;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                await LookForTablesAsync(cancellationToken);
            }
            finally
            {
                _tablesEvery = TimeSpan.FromTicks(Math.Clamp(clock.Elapsed.Ticks * 50, TablesEveryLeast.Ticks, TablesEveryMost.Ticks));
            }
        }
    }

    private async Task LookForTablesAsync(CancellationToken cancellationToken)
    {
        if (Carry is { } carry)
        {
            await carry.LookAsync(cancellationToken);
            return;
        }

        var added = await SourceSide.UnpublishedTablesAsync(Session, publication, cancellationToken);
        if (added.Count > 0)
        {
            throw new PgRelocateException($"Follow stopped: {Sentences.Plural(added.Count, "table")} {string.Join(", ", added)} appeared on the source after the copy, and {(added.Count == 1 ? "its" : "their")} changes would not be carried. The replication slot and publication are removed; start the migration again (the new tables are copied with the rest).", ExitCode.Failed);
        }
    }

    /// <summary>WAL the source wrote that the slot's sender has not read yet.</summary>
    public async Task<long> UnsentWalAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var cmd = new NpgsqlCommand(OnlineSql.UnsentWal, Session);
            cmd.Parameters.AddWithValue("slot", slot);
            return await cmd.ExecuteScalarAsync(cancellationToken) is long unsent ? unsent : 0;
        }
        finally
        {
            _gate.Release();
        }
    }

    private NpgsqlConnection Session => _session ?? throw new InvalidOperationException("The source watch's session is not open.");

    /// <summary>Reads the slot's lag and retained WAL; stops before the slot endangers the source's disk.</summary>
    private async Task WatchSlotAsync(CancellationToken cancellationToken)
    {
        var found = await SourceSide.SlotsAsync(Session, slot, cancellationToken);
        if (found.Count == 0)
        {
            throw new PgRelocateException($"The replication slot {slot} is gone from the {_sides.Source} (dropped by someone, or invalidated): the {_sides.Target} can no longer follow it. Cancel this migration and start a new one.");
        }

        var (walStatus, safe) = (found[0].WalStatus, found[0].SafeWalSize);
        LagBytes = found[0].LagBytes;
        Retained = found[0].RetainedBytes;
        if (walStatus is "lost" or "unreserved" || safe is < 64L * 1024 * 1024 || Retained > MaxRetainedBytes)
        {
            throw SourceEndangered(Retained, MaxRetainedBytes, walStatus, safe, _sides);
        }

        if (Retained > 1L << 30 && DateTime.UtcNow - _lastWarn > TimeSpan.FromMinutes(1))
        {
            _lastWarn = DateTime.UtcNow;
            reporter.Warn($"The replication slot holds {Units.Bytes(Retained)} of WAL on the {_sides.Source}: watch its disk.");
        }
    }

    /// <summary>The stop that protects the source's disk, saying why: over the limit, the slot's status, what is left.</summary>
    internal static PgRelocateException SourceEndangered(long retained, long? max, string? walStatus, long? safe, FollowSides sides)
    {
        var why = new[]
        {
            retained > max ? $"over --max-retained-wal {Units.Bytes(max.Value)}" : null,
            walStatus is null ? null : "status " + walStatus,
            safe is null ? null : Units.Bytes(safe.Value) + " left before the server invalidates it",
        }.Where(w => w is not null);
        return new PgRelocateException($"Follow stopped to protect the {sides.Source}: the slot holds {Units.Bytes(retained)} of WAL ({string.Join(", ", why)}). The slot is removed so the {sides.Source} can recycle its WAL; start again when the {sides.Target} can keep up (a closer network, a larger --max-retained-wal).", ExitCode.Failed);
    }
}

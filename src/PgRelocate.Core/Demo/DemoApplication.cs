using System.Diagnostics;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Demo;

/// <summary>
/// The online demo's stand-in for an application: it writes continuously (an order with its items, a hot
/// counter row, an order paid, now and then an older order deleted with its items), to the source until it
/// is told the switch has happened, then to the target, its new DATABASE_URL. A write that fails (the source
/// read-only, its session ended) is tried again every <see cref="RetryDelay"/>. It measures what its users
/// would have seen: the longest time between two successful writes.
/// </summary>
internal sealed class DemoApplication : IAsyncDisposable
{
    /// <summary>The application_name of its sessions, as the source's list of connected applications shows it.</summary>
    public const string ApplicationName = "shop-app";

    /// <summary>How long it waits before trying a failed write again.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(20);

    /// <summary>The pause between two writes: a steady load of a few hundred changes a second.</summary>
    public static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(5);

    private static readonly string WriteSql = CatalogSql.Load("Demo/application_write.sql");

    private readonly PgConnectionInfo _source;
    private readonly PgConnectionInfo _target;
    private readonly Func<bool> _switched;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private Task? _run;
    private long _lastWrite;
    private long _longestGapTicks;
    private string _lastError = "";

    /// <param name="source">Where it writes first.</param>
    /// <param name="target">Where it writes once <paramref name="switched"/> says so.</param>
    /// <param name="switched">Asked after a failed write: has the database moved (the new DATABASE_URL is live)?</param>
    public DemoApplication(PgConnectionInfo source, PgConnectionInfo target, Func<bool> switched)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        _source = source.WithApplicationName(ApplicationName);
        _target = target.WithApplicationName(ApplicationName);
        _switched = switched;
    }

    /// <summary>
    /// Makes the sample's source ready for an online migration, as its provider's administrator would: the login
    /// role may replicate and is a member of the reporting schema's owner (a publication needs the tables' owner);
    /// then adds the application's own table (as the database's owner).
    /// </summary>
    public static async Task PrepareAsync(LocalCluster cluster, PgConnectionInfo database, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(database);
        var owner = Db.Ident(database.User);
        await cluster.ExecuteAsync($"ALTER ROLE {owner} REPLICATION; GRANT {Db.Ident(SampleDatabase.ReportingRole(database))} TO {owner}", cancellationToken: cancellationToken);
        await using var conn = await Db.OpenAsync(database, "sample database", cancellationToken);
        await Db.ExecuteAsync(conn, CatalogSql.Load("Demo/application.sql"), cancellationToken);
    }

    public long SourceWrites => Interlocked.Read(ref _sourceWrites);

    public long TargetWrites => Interlocked.Read(ref _targetWrites);

    public long FailedWrites => Interlocked.Read(ref _failedWrites);

    /// <summary>True once it writes to the target.</summary>
    public bool OnTarget => Volatile.Read(ref _onTarget);

    /// <summary>The longest time between two successful writes so far (the switch included once it is behind).</summary>
    public TimeSpan LongestGap
    {
        get
        {
            lock (_lock)
            {
                return TimeSpan.FromTicks(_longestGapTicks);
            }
        }
    }

    /// <summary>The last error a write met (what the application saw while the source was read-only).</summary>
    public string LastError
    {
        get
        {
            lock (_lock)
            {
                return _lastError;
            }
        }
    }

    private long _sourceWrites;
    private long _targetWrites;
    private long _failedWrites;
    private bool _onTarget;

    public void Start() => _run ??= Task.Run(() => RunAsync(_stop.Token));

    /// <summary>
    /// Counts the writes from here on as the target's, its connection kept: behind a pooler whose entry was
    /// repointed, the same DATABASE_URL now reaches the target.
    /// </summary>
    public void CountFromHereOnTarget() => Volatile.Write(ref _onTarget, true);

    /// <summary>Waits until it has written <paramref name="writes"/> times to the target, or the token is cancelled.</summary>
    public async Task WaitForTargetWritesAsync(long writes, CancellationToken cancellationToken)
    {
        while (TargetWrites < writes && _run is { IsCompleted: false })
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Stops writing; the gap measurement stays as it was.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            await _run;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var random = new Random(42);
        var mine = new Queue<long>();
        NpgsqlConnection? conn = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    conn ??= await Db.OpenAsync(OnTarget ? _target : _source, OnTarget ? "target" : "source", cancellationToken);
                    var delete = mine.Count > 50 ? mine.Dequeue() : 0;
                    var pay = mine.Count > 0 ? mine.Peek() : 0;
                    await using (var cmd = new NpgsqlCommand(WriteSql, conn))
                    {
                        cmd.Parameters.AddWithValue("customer", 1L + random.Next(20000));
                        cmd.Parameters.AddWithValue("product", 1 + random.Next(1990));
                        cmd.Parameters.AddWithValue("pay", pay);
                        cmd.Parameters.AddWithValue("delete", delete);
                        mine.Enqueue((long)(await cmd.ExecuteScalarAsync(cancellationToken))!);
                    }

                    Succeeded();
                    await Task.Delay(Pace, cancellationToken);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is NpgsqlException or PgRelocateException or InvalidOperationException or IOException or TimeoutException)
                {
                    Interlocked.Increment(ref _failedWrites);
                    lock (_lock)
                    {
                        _lastError = e is PostgresException pe ? pe.MessageText : e.Message;
                    }

                    if (conn is not null)
                    {
                        await conn.DisposeAsync();
                        conn = null;
                    }

                    if (!OnTarget && _switched())
                    {
                        // The new DATABASE_URL: its own orders, counted from here on, continue on the target.
                        Volatile.Write(ref _onTarget, true);
                        mine.Clear();
                        continue;
                    }

                    await Task.Delay(RetryDelay, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
        finally
        {
            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
        }
    }

    private void Succeeded()
    {
        var now = Stopwatch.GetTimestamp();
        if (OnTarget)
        {
            Interlocked.Increment(ref _targetWrites);
        }
        else
        {
            Interlocked.Increment(ref _sourceWrites);
        }

        lock (_lock)
        {
            if (_lastWrite != 0)
            {
                _longestGapTicks = Math.Max(_longestGapTicks, Stopwatch.GetElapsedTime(_lastWrite, now).Ticks);
            }

            _lastWrite = now;
        }
    }
}

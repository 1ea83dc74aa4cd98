using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Online;

/// <summary>
/// An application that runs one statement on the source every few milliseconds, on one session, until it is
/// stopped or the cutover makes its database read-only. <see cref="Writes"/> counts the statements that committed.
/// </summary>
internal sealed class ApplicationWriter : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;
    private long _writes;

    private ApplicationWriter(PgConnectionInfo source, string sql) => _writer = Task.Run(() => WriteAsync(source, sql));

    public long Writes => Interlocked.Read(ref _writes);

    public static ApplicationWriter Start(PgConnectionInfo source, string sql) => new(source, sql);

    /// <summary>Stops writing and waits for the last statement.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _writer;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task WriteAsync(PgConnectionInfo source, string sql)
    {
        await using var conn = new NpgsqlConnection(source.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await cmd.ExecuteNonQueryAsync();
                Interlocked.Increment(ref _writes);
            }
            catch (PostgresException)
            {
                return; // read-only: the cutover has begun
            }

            // A pace, as an application writes: not a wait for anything.
            await Task.Delay(3);
        }
    }
}

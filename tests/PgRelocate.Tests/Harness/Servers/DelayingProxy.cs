using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;

namespace PgRelocate.Tests.Harness.Servers;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a test server that delays everything it carries by a fixed time each way,
/// in order: a server that far away, as a managed database in another zone or region is.
/// </summary>
public sealed class DelayingProxy : LoopbackProxy
{
    private readonly TimeSpan _delay;

    public DelayingProxy(int targetPort, TimeSpan delayEachWay)
        : base(targetPort)
    {
        _delay = delayEachWay;
        Start();
    }

    protected override async Task CarryAsync(TcpClient client, TcpClient server, CancellationToken stop)
    {
        client.NoDelay = server.NoDelay = true;
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var up = PumpAsync(client.GetStream(), server.GetStream(), connection.Token);
        var down = PumpAsync(server.GetStream(), client.GetStream(), connection.Token);
        await Task.WhenAny(up, down);
        await connection.CancelAsync();
    }

    /// <summary>Copies until EOF, each chunk leaving the delay after it arrived.</summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream to, CancellationToken cancellationToken)
    {
        var chunks = Channel.CreateUnbounded<(long Due, byte[] Data)>();
        var sending = Task.Run(async () =>
        {
            await foreach (var (due, data) in chunks.Reader.ReadAllAsync(cancellationToken))
            {
                // Task.Delay counts whole milliseconds, rounded down: a wait of 0.9 ms would be none.
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), cancellationToken);
                }

                await to.WriteAsync(data, cancellationToken);
            }

            to.Socket.Shutdown(SocketShutdown.Send);
        }, cancellationToken);
        try
        {
            var buffer = new byte[65536];
            int n;
            while ((n = await from.ReadAsync(buffer, cancellationToken)) > 0)
            {
                chunks.Writer.TryWrite((Stopwatch.GetTimestamp() + (long)(_delay.TotalSeconds * Stopwatch.Frequency), buffer[..n]));
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        chunks.Writer.TryComplete();
        try
        {
            await sending;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }
}

using System.Net.Sockets;

namespace PgRelocate.Tests.Harness.Servers;

public enum CutDirection
{
    /// <summary>Server to client: a download dies.</summary>
    Download,

    /// <summary>Client to server: an upload dies.</summary>
    Upload,
}

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a test server that resets the first <c>cuts</c> connections that
/// carry more than <c>afterBytes</c> bytes in one direction, at that byte: a network fault on demand. With
/// <c>stall</c>, those connections are not reset but stop carrying anything in that direction while staying
/// open, as a connection through a dead router does.
/// </summary>
public sealed class CuttingProxy : LoopbackProxy
{
    private readonly long _afterBytes;
    private readonly CutDirection _direction;
    private readonly bool _stall;
    private readonly TaskCompletionSource _firstCut = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _cutsLeft;

    /// <param name="listenPort">0 for any free port; another proxy's port to stand in for it once it is gone.</param>
    public CuttingProxy(int targetPort, long afterBytes, CutDirection direction, int cuts = 1, bool stall = false, int listenPort = 0)
        : base(targetPort, listenPort)
    {
        _stall = stall;
        _afterBytes = afterBytes;
        _direction = direction;
        _cutsLeft = cuts;
        Start();
    }

    /// <summary>How many connections were cut so far.</summary>
    public int Cuts { get; private set; }

    /// <summary>Completes when the first connection is cut or stalled.</summary>
    public Task FirstCut => _firstCut.Task;

    protected override async Task CarryAsync(TcpClient client, TcpClient server, CancellationToken stop)
    {
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var up = PumpAsync(client.GetStream(), server.GetStream(), _direction == CutDirection.Upload, connection);
        var down = PumpAsync(server.GetStream(), client.GetStream(), _direction == CutDirection.Download, connection);
        await Task.WhenAny(up, down);
        await connection.CancelAsync();
        if ((up.IsCompletedSuccessfully && up.Result) || (down.IsCompletedSuccessfully && down.Result))
        {
            Cuts++;
            // A reset, not a clean close: what a dropped connection looks like to the client.
            client.Client.LingerState = new LingerOption(true, 0);
            server.Client.LingerState = new LingerOption(true, 0);
        }
    }

    /// <summary>Copies until EOF; returns true when it stopped because it cut the connection.</summary>
    private async Task<bool> PumpAsync(NetworkStream from, NetworkStream to, bool cut, CancellationTokenSource connection)
    {
        var buffer = new byte[16384];
        long total = 0;
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, connection.Token);
                if (n == 0)
                {
                    return false;
                }

                // Only connections that carry that much count against the cuts: small requests before pass untouched.
                if (cut && total + n > _afterBytes && Interlocked.Decrement(ref _cutsLeft) >= 0)
                {
                    var allowed = (int)(_afterBytes - total);
                    if (allowed > 0)
                    {
                        await to.WriteAsync(buffer.AsMemory(0, allowed), connection.Token);
                    }

                    _firstCut.TrySetResult();
                    if (_stall)
                    {
                        // Hold the connection open and silent until the client gives up on it or the proxy stops.
                        await Task.Delay(Timeout.Infinite, connection.Token);
                    }

                    return true;
                }

                await to.WriteAsync(buffer.AsMemory(0, n), connection.Token);
                total += n;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            return false;
        }
    }
}

using System.Net;
using System.Net.Sockets;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Harness.Servers;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a test server: it accepts connections, opens one to the server for each, and
/// lets the subclass carry the bytes between them (<see cref="CarryAsync"/>) until either side is done.
/// </summary>
public abstract class LoopbackProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private Task _accepting = Task.CompletedTask;

    /// <param name="listenPort">0 for any free port; another proxy's port to stand in for it once it is gone.</param>
    protected LoopbackProxy(int targetPort, int listenPort = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, listenPort);
        _targetPort = targetPort;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>The URL of <paramref name="server"/> (a database of the server this proxy stands in front of), through the proxy.</summary>
    public string UrlOf(PgConnectionInfo server) =>
        CliRunner.Url(server).Replace($":{server.Port}/", $":{Port}/", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts accepting: called by the subclass once it is fully made.</summary>
    protected void Start() => _accepting = AcceptAsync();

    /// <summary>Carries one connection's bytes both ways until it ends; <paramref name="stop"/> is the proxy's end.</summary>
    protected abstract Task CarryAsync(TcpClient client, TcpClient server, CancellationToken stop);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        using var server = new TcpClient();
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            await CarryAsync(client, server, _stop.Token);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}

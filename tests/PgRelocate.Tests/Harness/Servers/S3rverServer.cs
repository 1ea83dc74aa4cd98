namespace PgRelocate.Tests.Harness.Servers;

/// <summary>
/// s3rver, a second S3 dialect, on a 127.0.0.1 free port. It accepts any secret and any signature: it shows
/// that requests and bodies are understood by another implementation, never that anything is secure.
/// </summary>
public sealed class S3rverServer : IAsyncLifetime, IS3Server
{
    private readonly TempDir _dir = new();
    private ServerProcess? _process;

    public string Endpoint { get; private set; } = "";

    public int Port { get; private set; }

    public string AccessKey => "S3RVER";

    public string SecretKey => "S3RVER";

    public bool ChecksSignatures => false;

    public int MinPartSize => 5 << 20;

    public async Task InitializeAsync()
    {
        Port = ServerProcess.FreePort();
        Endpoint = $"http://127.0.0.1:{Port}";
        var data = Directory.CreateDirectory(_dir.File("data")).FullName;
        _process = ServerProcess.Start("s3rver", _dir.Path, "node", ServerProcess.NodeTool("s3rver"), "-d", data, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent", "--no-vhost-buckets");
        await ServerProcess.WaitForHttpAsync(Endpoint + "/", [_process]);
    }

    public Task DisposeAsync()
    {
        _process?.Dispose();
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

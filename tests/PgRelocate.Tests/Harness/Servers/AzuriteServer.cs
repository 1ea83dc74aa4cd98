namespace PgRelocate.Tests.Harness.Servers;

/// <summary>
/// Azurite's blob service on a 127.0.0.1 free port, in a temporary folder. It enforces Shared Key and SAS
/// signatures and expiry, with the emulator's published account (devstoreaccount1).
/// </summary>
public sealed class AzuriteServer : IAsyncLifetime
{
    public const string Account = "devstoreaccount1";

    // Azurite's published development key; registered as a secret anyway, so tests prove it never leaks.
    public const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly TempDir _dir = new();
    private ServerProcess? _process;

    public int Port { get; private set; }

    /// <summary>The blob endpoint, path-style as the emulator serves it.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}/{Account}";

    public string ConnectionString => $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};BlobEndpoint={Endpoint};";

    public async Task InitializeAsync()
    {
        Secrets.Register(Key);
        Port = ServerProcess.FreePort();
        _process = ServerProcess.Start(
            "azurite", _dir.Path, "node", ServerProcess.NodeTool("azurite-blob"),
            "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--location", _dir.File("data"), "--skipApiVersionCheck", "--silent");
        await ServerProcess.WaitForHttpAsync($"http://127.0.0.1:{Port}/{Account}?comp=list", [_process]);
    }

    public Task DisposeAsync()
    {
        _process?.Dispose();
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

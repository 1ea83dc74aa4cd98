using PgRelocate.Staging;
using PgRelocate.Staging.Azure;
using PgRelocate.Staging.Retry;
using PgRelocate.Staging.S3;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

/// <summary>Stores pointed at the harness's servers (or a proxy in front of them), with short retry delays.</summary>
internal static class TestStores
{
    public static RetryPolicy FastRetry => new(maxAttempts: 5, firstDelay: TimeSpan.FromMilliseconds(50));

    /// <summary>An S3 store; Swift refuses the server-side encryption header, so it is off unless <paramref name="sse"/> says.</summary>
    public static S3Store S3(IS3Server server, string bucket, string? endpoint = null, string? secret = null, string sse = "none") =>
        new(bucket, new S3Settings
        {
            AccessKeyId = server.AccessKey,
            SecretAccessKey = secret ?? server.SecretKey,
            Endpoint = new Uri(endpoint ?? server.Endpoint),
            PathStyle = true,
            PartSize = server.MinPartSize,
            ServerSideEncryption = sse,
        });

    public static AzureStore Azure(AzuriteServer server, string container, string? endpoint = null, string? key = null)
    {
        var k = key ?? AzuriteServer.Key;
        var credentials = AzureCredentials.Resolve(AzuriteServer.Account, new StagingOptions
        {
            EndpointUrl = (endpoint ?? $"http://127.0.0.1:{server.Port}") + "/" + AzuriteServer.Account,
            Environment = new Dictionary<string, string?> { ["AZURE_STORAGE_KEY"] = k },
        });
        return new AzureStore(credentials, container);
    }

    public static IStagingStore Retrying(IStagingStore store) => new RetryingStore(store, FastRetry);

    public static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>Deterministic pseudo-random bytes that do not compress.</summary>
    public static byte[] Bytes(int length, int seed = 1)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static async Task PutAsync(IStagingStore store, string key, byte[] data)
    {
        await using var writer = await StagingWriter.CreateAsync(store, key, new UploadOptions(), CancellationToken.None);
        // Odd-sized writes, so part boundaries fall inside them.
        for (var i = 0; i < data.Length; i += 1_000_003)
        {
            await writer.WriteAsync(data.AsMemory(i, Math.Min(1_000_003, data.Length - i)));
        }

        await writer.CommitAsync(CancellationToken.None);
    }

    public static async Task<byte[]> GetAsync(IStagingStore store, string key, long offset = 0)
    {
        await using var stream = await store.OpenReadAsync(key, offset, CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    public static void RegisterSignature(Uri url)
    {
        foreach (var pair in url.Query.TrimStart('?').Split('&'))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && pair[..eq] is "X-Amz-Signature" or "sig" or "X-Amz-Security-Token")
            {
                Secrets.Register(pair[(eq + 1)..]);
                Secrets.Register(Uri.UnescapeDataString(pair[(eq + 1)..]));
            }
        }
    }
}

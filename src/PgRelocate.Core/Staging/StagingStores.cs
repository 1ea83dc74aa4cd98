using PgRelocate.Progress;
using PgRelocate.Staging.Azure;
using PgRelocate.Staging.Http;
using PgRelocate.Staging.Local;
using PgRelocate.Staging.Retry;
using PgRelocate.Staging.S3;

namespace PgRelocate.Staging;

/// <summary>Opens the store a location lives in, wrapped with retries: the one entry point commands use.</summary>
public static class StagingStores
{
    public static IStagingStore Open(StagingLocation location, StagingOptions options, IReporter? reporter = null, RetryPolicy? retry = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(options);
        IStagingStore store = location.Kind switch
        {
            LocationKind.Local => new LocalStore(),
            LocationKind.S3 => new S3Store(location.Container!, S3SettingsResolver.Resolve(options)),
            LocationKind.Azure => new AzureStore(AzureCredentials.Resolve(location.Account!, options), location.Container!),
            _ => new HttpStore(),
        };
        return new RetryingStore(store, retry ?? new RetryPolicy(reporter: reporter));
    }

    /// <summary>Reads the whole (small) object as text, or null when it is not there; for manifests.</summary>
    public static async Task<string?> ReadTextAsync(IStagingStore store, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (await store.StatAsync(key, cancellationToken) is not { } stat)
        {
            return null;
        }

        await using var stream = await store.OpenReadAsync(key, 0, cancellationToken);
        using var bytes = new MemoryStream();
        await stream.CopyToAsync(bytes, cancellationToken);
        if (bytes.Length != stat.Size)
        {
            // A body cut short that the server ended as if it were whole: never read as the object.
            throw new StagingException($"{store.Display(key)} is {stat.Size} bytes but {bytes.Length} arrived: the download was cut short; run the command again.", transient: true);
        }

        bytes.Position = 0;
        using var reader = new StreamReader(bytes);
        return await reader.ReadToEndAsync(cancellationToken);
    }

    /// <summary>Writes a small object in one go (a manifest), published whole or not at all.</summary>
    public static async Task WriteTextAsync(IStagingStore store, string key, string text, CancellationToken cancellationToken)
    {
        await using var writer = await StagingWriter.CreateAsync(store, key, new UploadOptions { ContentType = "application/json" }, cancellationToken);
        await writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), cancellationToken);
        await writer.CommitAsync(cancellationToken);
    }
}

using PgRelocate.Staging;

namespace PgRelocate.Tests.Staging;

/// <summary>Gives the local store (whose keys are absolute paths) a root folder, so the contract tests can use relative keys.</summary>
internal sealed class PrefixStore(IStagingStore inner, string root) : IStagingStore
{
    public bool CanWrite => inner.CanWrite;

    public string Display(string key) => inner.Display(Full(key));

    public Task<IReadOnlyList<string>> PrepareAsync(bool create, bool allowPublic, CancellationToken cancellationToken) => inner.PrepareAsync(create, allowPublic, cancellationToken);

    public Task<StoredObject?> StatAsync(string key, CancellationToken cancellationToken) => inner.StatAsync(Full(key), cancellationToken);

    public Task<Stream> OpenReadAsync(string key, long offset, CancellationToken cancellationToken) => inner.OpenReadAsync(Full(key), offset, cancellationToken);

    public Task<IUpload> StartUploadAsync(string key, UploadOptions options, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Full(key))!);
        return inner.StartUploadAsync(Full(key), options, cancellationToken);
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(Full(key), cancellationToken);

    public Uri PresignGet(string key, DateTimeOffset expiresAt) => inner.PresignGet(Full(key), expiresAt);

    private string Full(string key) => Path.Combine(root, key);
}

namespace PgRelocate.Staging.Retry;

/// <summary>
/// Wraps any store so that transient failures are retried with backoff: each call, each upload part (a part
/// is idempotent, and the writer still holds its bytes), and reads, which resume from the last byte received.
/// </summary>
internal sealed class RetryingStore(IStagingStore inner, RetryPolicy policy) : IStagingStore
{
    public IStagingStore Inner => inner;

    public bool CanWrite => inner.CanWrite;

    public string Display(string key) => inner.Display(key);

    public Task<IReadOnlyList<string>> PrepareAsync(bool create, bool allowPublic, CancellationToken cancellationToken) =>
        policy.RunAsync("Checking the bucket", ct => inner.PrepareAsync(create, allowPublic, ct), cancellationToken);

    public Task<StoredObject?> StatAsync(string key, CancellationToken cancellationToken) =>
        policy.RunAsync($"Looking up {inner.Display(key)}", ct => inner.StatAsync(key, ct), cancellationToken);

    public async Task<Stream> OpenReadAsync(string key, long offset, CancellationToken cancellationToken)
    {
        var first = await policy.RunAsync($"Opening {inner.Display(key)}", ct => inner.OpenReadAsync(key, offset, ct), cancellationToken);
        return new ResumingReadStream(first, offset, (o, ct) => inner.OpenReadAsync(key, o, ct), policy, inner.Display(key));
    }

    public async Task<IUpload> StartUploadAsync(string key, UploadOptions options, CancellationToken cancellationToken)
    {
        var upload = await policy.RunAsync($"Starting the upload to {inner.Display(key)}", ct => inner.StartUploadAsync(key, options, ct), cancellationToken);
        return new RetryingUpload(upload, policy, inner.Display(key));
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        policy.RunAsync($"Deleting {inner.Display(key)}", ct => inner.DeleteAsync(key, ct), cancellationToken);

    public Uri PresignGet(string key, DateTimeOffset expiresAt) => inner.PresignGet(key, expiresAt);

    public Task AbortUploadAsync(string key, string uploadId, CancellationToken cancellationToken) =>
        policy.RunAsync($"Aborting an earlier upload to {inner.Display(key)}", ct => inner.AbortUploadAsync(key, uploadId, ct), cancellationToken);

    private sealed class RetryingUpload(IUpload inner, RetryPolicy policy, string display) : IUpload
    {
        public int PartSize => inner.PartSize;

        public string? Id => inner.Id;

        public Task UploadPartAsync(int partNumber, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
            policy.RunAsync($"Uploading part {partNumber} of {display}", ct => inner.UploadPartAsync(partNumber, offset, data, ct), cancellationToken);

        public Task CompleteAsync(int partCount, long totalBytes, CancellationToken cancellationToken) =>
            policy.RunAsync($"Completing the upload of {display}", ct => inner.CompleteAsync(partCount, totalBytes, ct), cancellationToken);

        public Task AbortAsync(CancellationToken cancellationToken) =>
            policy.RunAsync($"Aborting the upload of {display}", ct => inner.AbortAsync(ct), cancellationToken);
    }
}

namespace PgRelocate.Staging;

/// <summary>
/// One place archives are staged in: a bucket, a container, a folder, or a single URL. Keys are relative to
/// it (an S3 key, a blob name, a file name). Every implementation keeps this contract, and one contract test
/// suite checks it against every store:
/// <list type="bullet">
/// <item>"Not found" (no such object, or no such bucket/container) is a <see cref="StagingNotFoundException"/>,
/// never a null stream or an empty read. <see cref="StatAsync"/> alone answers null for a missing object.</item>
/// <item>Errors are <see cref="StagingException"/>s whose message is one line a user can act on and holds no
/// secret. <see cref="Errors.PgRelocateException.IsTransient"/> is true only when the same call may succeed
/// if repeated (connection reset, timeout, 5xx, throttling); authentication, permission, expiry, not found
/// and bad input are permanent. Implementations never retry: <see cref="Retry.RetryingStore"/> does.</item>
/// <item><see cref="DeleteAsync"/> is idempotent: deleting what is not there succeeds.</item>
/// <item>Uploads publish all or nothing: readers see the object under its final key only after
/// <see cref="IUpload.CompleteAsync"/>; an aborted upload leaves nothing under that key. Parts are idempotent:
/// uploading part N again replaces it, so a failed part can be retried.</item>
/// <item><see cref="OpenReadAsync"/> reads from an offset, so a dropped download resumes where it stopped.</item>
/// </list>
/// </summary>
public interface IStagingStore
{
    /// <summary>How the store names <paramref name="key"/> in messages: never holds a secret.</summary>
    string Display(string key);

    /// <summary>Whether <see cref="StartUploadAsync"/> and <see cref="DeleteAsync"/> are supported (an HTTP URL is read-only).</summary>
    bool CanWrite { get; }

    /// <summary>Checks the bucket or container before a write: it exists (or is created when <paramref name="create"/>), and is
    /// not public unless <paramref name="allowPublic"/>. Returns lines worth telling the user (encryption at rest, a check the
    /// store cannot make).</summary>
    Task<IReadOnlyList<string>> PrepareAsync(bool create, bool allowPublic, CancellationToken cancellationToken);

    /// <summary>The object's size, or null when there is no such object.</summary>
    Task<StoredObject?> StatAsync(string key, CancellationToken cancellationToken);

    /// <summary>The object's bytes from <paramref name="offset"/> to its end. Dispose the stream to release the connection.</summary>
    Task<Stream> OpenReadAsync(string key, long offset, CancellationToken cancellationToken);

    /// <summary>Begins an upload to <paramref name="key"/>; nothing is visible under the key until it completes.</summary>
    Task<IUpload> StartUploadAsync(string key, UploadOptions options, CancellationToken cancellationToken);

    /// <summary>Removes the object; succeeds when it is not there.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Discards the parts of an upload started by another process (one that was killed), by its
    /// <see cref="IUpload.Id"/>. Idempotent. Stores without such ids have nothing to discard.
    /// </summary>
    Task AbortUploadAsync(string key, string uploadId, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A URL anyone holding it can GET the object with until <paramref name="expiresAt"/>, and nothing else.</summary>
    /// <exception cref="StagingException">The store cannot sign URLs (a local file, an HTTP URL).</exception>
    Uri PresignGet(string key, DateTimeOffset expiresAt);
}

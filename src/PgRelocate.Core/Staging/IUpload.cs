namespace PgRelocate.Staging;

/// <summary>
/// One upload in progress. Parts are numbered from 1 and uploaded in order; every part but the last holds
/// exactly <see cref="PartSize"/> bytes. Uploading a part again replaces it (so a failed part is retried).
/// Dispose without <see cref="CompleteAsync"/> does not abort: call <see cref="AbortAsync"/>
/// (<see cref="StagingWriter"/> does both for you).
/// </summary>
public interface IUpload
{
    /// <summary>Bytes per part: at least the store's minimum part size.</summary>
    int PartSize { get; }

    /// <summary>
    /// The store's own id for this upload when it keeps the parts under one until they are completed or
    /// aborted (S3's multipart upload id), else null. <see cref="StagingWriter"/> records it, so an upload
    /// whose process was killed can still be aborted (<see cref="IStagingStore.AbortUploadAsync"/>).
    /// </summary>
    string? Id => null;

    /// <summary>Uploads part <paramref name="partNumber"/>, which starts at byte <paramref name="offset"/> of the object.</summary>
    Task UploadPartAsync(int partNumber, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Publishes the parts uploaded so far under the final key, replacing any object there.</summary>
    Task CompleteAsync(int partCount, long totalBytes, CancellationToken cancellationToken);

    /// <summary>Discards the parts. Idempotent; never throws for an upload that is already gone.</summary>
    Task AbortAsync(CancellationToken cancellationToken);
}

/// <summary>What to ask of the store when writing.</summary>
public sealed record UploadOptions
{
    /// <summary>The MIME type stored with the object.</summary>
    public string ContentType { get; init; } = "application/octet-stream";
}

/// <summary>What a store knows about an object.</summary>
public sealed record StoredObject(long Size);

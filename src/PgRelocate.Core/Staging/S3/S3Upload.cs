using Amazon.Runtime;
using Amazon.S3.Model;

namespace PgRelocate.Staging.S3;

/// <summary>A multipart upload: nothing exists under the key until CompleteMultipartUpload; abort discards the parts.</summary>
internal sealed class S3Upload(S3Store store, string key, string uploadId) : IUpload
{
    private readonly Dictionary<int, string> _etags = [];

    public int PartSize => Math.Max(store.Settings.PartSize, 5 << 20);

    public string Id => uploadId;

    public async Task UploadPartAsync(int partNumber, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            // A fresh stream per attempt, over the writer's buffer: no copy.
            using var body = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out var segment)
                ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(data.ToArray(), writable: false);
            var response = await store.Client.UploadPartAsync(
                new UploadPartRequest
                {
                    BucketName = store.Bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartNumber = partNumber,
                    PartSize = data.Length,
                    InputStream = body,
                    UseChunkEncoding = false,
                    DisablePayloadSigning = false,
                },
                cancellationToken);
            _etags[partNumber] = response.ETag;
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, store.Display(key));
        }
    }

    public async Task CompleteAsync(int partCount, long totalBytes, CancellationToken cancellationToken)
    {
        try
        {
            await store.Client.CompleteMultipartUploadAsync(
                new CompleteMultipartUploadRequest
                {
                    BucketName = store.Bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartETags = Enumerable.Range(1, partCount).Select(n => new PartETag(n, _etags[n])).ToList(),
                },
                cancellationToken);
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, store.Display(key));
        }
    }

    public async Task AbortAsync(CancellationToken cancellationToken)
    {
        try
        {
            await store.Client.AbortMultipartUploadAsync(
                new AbortMultipartUploadRequest { BucketName = store.Bucket, Key = key, UploadId = uploadId },
                cancellationToken);
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode is System.Net.HttpStatusCode.NotFound)
        {
            // Already aborted or completed: nothing left to discard.
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode is System.Net.HttpStatusCode.MethodNotAllowed or System.Net.HttpStatusCode.NotImplemented)
        {
            // Stores without abort (s3rver): the parts were never published under the key, which is what matters.
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, store.Display(key));
        }
    }
}

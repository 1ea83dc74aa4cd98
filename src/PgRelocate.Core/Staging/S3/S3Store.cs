using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using PgRelocate.Tools;

namespace PgRelocate.Staging.S3;

/// <summary>
/// One S3 bucket through AWSSDK.S3, set up for S3-compatible stores as well: checksums only when required
/// and no aws-chunked bodies (Swift answers 501, others store the framing inside the object), path-style
/// addressing for custom endpoints, deletes one object at a time (multi-object delete needs Content-MD5,
/// which the SDK no longer sends). The SDK's own retries are off: <see cref="Retry.RetryingStore"/> retries.
/// </summary>
internal sealed class S3Store : IStagingStore, IDisposable
{
    private readonly S3Settings _settings;
    private readonly AmazonS3Client _client;

    public S3Store(string bucket, S3Settings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Bucket = bucket;
        _settings = settings;
        var config = new AmazonS3Config
        {
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 0,
            Timeout = TimeSpan.FromMinutes(5),
        };
        if (settings.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = settings.Region;
            config.ForcePathStyle = settings.PathStyle;
            config.UseHttp = endpoint.Scheme == Uri.UriSchemeHttp;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(settings.Region);
            config.ForcePathStyle = settings.PathStyle;
        }

        AWSCredentials credentials = settings.SessionToken is { Length: > 0 } token
            ? new SessionAWSCredentials(settings.AccessKeyId, settings.SecretAccessKey, token)
            : new BasicAWSCredentials(settings.AccessKeyId, settings.SecretAccessKey);
        _client = new AmazonS3Client(credentials, config);
    }

    public string Bucket { get; }

    public bool CanWrite => true;

    internal AmazonS3Client Client => _client;

    internal S3Settings Settings => _settings;

    public string Display(string key) => $"s3://{Bucket}/{key}";

    public async Task<IReadOnlyList<string>> PrepareAsync(bool create, bool allowPublic, CancellationToken cancellationToken) =>
        await S3BucketCheck.RunAsync(this, create, allowPublic, cancellationToken);

    public async Task<StoredObject?> StatAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var head = await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = key }, cancellationToken);
            return new StoredObject(head.ContentLength);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, Display(key));
        }
    }

    public async Task<Stream> OpenReadAsync(string key, long offset, CancellationToken cancellationToken)
    {
        try
        {
            var request = new GetObjectRequest { BucketName = Bucket, Key = key };
            if (offset > 0)
            {
                request.ByteRange = new ByteRange($"bytes={offset}-");
            }

            var response = await _client.GetObjectAsync(request, cancellationToken);
            return new OwnedStream(response.ResponseStream, response);
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, Display(key));
        }
    }

    public Task AbortUploadAsync(string key, string uploadId, CancellationToken cancellationToken) =>
        new S3Upload(this, key, uploadId).AbortAsync(cancellationToken);

    public async Task<IUpload> StartUploadAsync(string key, UploadOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            var request = new InitiateMultipartUploadRequest { BucketName = Bucket, Key = key, ContentType = options.ContentType };
            if (_settings.ServerSideEncryption is not "none")
            {
                request.ServerSideEncryptionMethod = new ServerSideEncryptionMethod(_settings.ServerSideEncryption);
                if (_settings.KmsKeyId is { } kms)
                {
                    request.ServerSideEncryptionKeyManagementServiceKeyId = kms;
                }
            }

            var response = await _client.InitiateMultipartUploadAsync(request, cancellationToken);
            return new S3Upload(this, key, response.UploadId);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotImplemented && _settings.ServerSideEncryption != "none")
        {
            // Never fall back to an unencrypted upload silently: the user decides.
            throw new StagingException(
                $"The store of {Display(key)} does not support server-side encryption ({_settings.ServerSideEncryption}): pass --sse none if it encrypts at rest by itself (check the provider's documentation).",
                innerException: e,
                exitCode: Errors.ExitCode.Usage);
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, Display(key));
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            // Deleting what is not there is success (idempotent), whatever the store answers.
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, Display(key));
        }
    }

    public Uri PresignGet(string key, DateTimeOffset expiresAt)
    {
        var request = new GetPreSignedUrlRequest
        {
            BucketName = Bucket,
            Key = key,
            Verb = HttpVerb.GET,
            Expires = expiresAt.UtcDateTime,
            Protocol = _settings.Endpoint?.Scheme == Uri.UriSchemeHttp ? Protocol.HTTP : Protocol.HTTPS,
        };
        return new Uri(_client.GetPreSignedURL(request));
    }

    public void Dispose() => _client.Dispose();
}

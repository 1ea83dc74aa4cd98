using System.Net;
using System.Net.Http.Headers;

namespace PgRelocate.Staging.Http;

/// <summary>
/// Any http(s) URL, read only: a presigned S3 URL, an Azure SAS URL, a plain download. The key is the URL
/// itself. Ranges use the standard Range header, which presigned and SAS URLs allow since it is not signed.
/// Its size is asked with a one-byte ranged GET, because a presigned GET URL does not allow HEAD.
/// </summary>
internal sealed class HttpStore : IStagingStore
{
    public bool CanWrite => false;

    public string Display(string key) => SignedUrl.Redact(key);

    public Task<IReadOnlyList<string>> PrepareAsync(bool create, bool allowPublic, CancellationToken cancellationToken) =>
        throw ReadOnly("");

    public async Task<StoredObject?> StatAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await HttpTransport.SendAsync(() => Get(key, 0, 0), Display(key), cancellationToken, HttpCompletionOption.ResponseHeadersRead);
            var total = response.Content.Headers.ContentRange?.Length ?? response.Content.Headers.ContentLength;
            return total is { } t ? new StoredObject(t) : null;
        }
        catch (StagingNotFoundException)
        {
            return null;
        }
    }

    public async Task<Stream> OpenReadAsync(string key, long offset, CancellationToken cancellationToken)
    {
        var response = await HttpTransport.SendAsync(() => Get(key, offset, null), Display(key), cancellationToken, HttpCompletionOption.ResponseHeadersRead);
        if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
        {
            response.Dispose();
            throw new StagingException($"{Display(key)} ignored the Range request (HTTP {(int)response.StatusCode}), so the download cannot resume: run the command again.");
        }

        if (response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From is { } from && from != offset)
        {
            response.Dispose();
            throw new StagingException($"{Display(key)} answered a Range request from byte {offset} with bytes from {from}, so its bytes cannot be trusted: run the command again, or download the archive another way and restore the file.");
        }

        return await HttpTransport.BodyAsync(response, cancellationToken);
    }

    public Task<IUpload> StartUploadAsync(string key, UploadOptions options, CancellationToken cancellationToken) => throw ReadOnly(key);

    public Task DeleteAsync(string key, CancellationToken cancellationToken) => throw ReadOnly(key);

    public Uri PresignGet(string key, DateTimeOffset expiresAt) =>
        throw new StagingException($"{Display(key)} is already a URL: sign an s3:// or azure:// location instead.", exitCode: Errors.ExitCode.Usage);

    private static HttpRequestMessage Get(string url, long from, long? to)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (from > 0 || to is not null)
        {
            request.Headers.Range = new RangeHeaderValue(from, to);
        }

        return request;
    }

    private StagingException ReadOnly(string key) =>
        new($"{(key.Length > 0 ? Display(key) : "An http(s) URL")} is read only: write to a path, s3:// or azure:// location.", exitCode: Errors.ExitCode.Usage);
}

using System.Globalization;
using System.Net;
using PgRelocate.Staging.Http;

namespace PgRelocate.Staging.Azure;

/// <summary>
/// One Azure Blob container through the Blob REST API by hand (the Azure SDK is not available here):
/// Put Block and Put Block List for uploads, Get Blob with a range for reads, Shared Key or a SAS token to
/// authenticate. Azure encrypts every blob at rest (Storage Service Encryption), so there is nothing to request.
/// </summary>
internal sealed class AzureStore(AzureCredentials credentials, string container) : IStagingStore
{
    public string Container => container;

    public bool CanWrite => true;

    public string Display(string key) => $"azure://{credentials.Account}/{container}/{key}";

    public async Task<IReadOnlyList<string>> PrepareAsync(bool create, bool allowPublic, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var display = $"azure://{credentials.Account}/{container}";
        using var props = await SendAsync(HttpMethod.Head, ContainerUrl("restype=container"), display, cancellationToken, accept: HttpStatusCode.NotFound);
        if (props.StatusCode == HttpStatusCode.NotFound)
        {
            if (!create)
            {
                throw new StagingNotFoundException($"The container {display} does not exist: create it, or pass --create-bucket to create it private.");
            }

            // No x-ms-blob-public-access header: the container is private.
            using var _ = await SendAsync(HttpMethod.Put, ContainerUrl("restype=container"), display, cancellationToken, accept: HttpStatusCode.Conflict);
            notes.Add($"Created the private container {display}.");
        }
        else if (props.Headers.TryGetValues("x-ms-blob-public-access", out var access) && access.FirstOrDefault() is { Length: > 0 } level && !allowPublic)
        {
            throw new StagingException(
                $"The container {display} allows public read access ('{level}'): a database dump must not be readable by anyone. Make it private, or pass --allow-public if you really mean it.",
                exitCode: Errors.ExitCode.Usage);
        }

        notes.Add("Azure Storage encrypts every blob at rest; no per-upload encryption is needed.");
        return notes;
    }

    public async Task<StoredObject?> StatAsync(string key, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, BlobUrl(key, null), Display(key), cancellationToken, accept: HttpStatusCode.NotFound);
        return response.StatusCode == HttpStatusCode.NotFound ? null : new StoredObject(response.Content.Headers.ContentLength ?? 0);
    }

    public async Task<Stream> OpenReadAsync(string key, long offset, CancellationToken cancellationToken)
    {
        var response = await SendAsync(
            HttpMethod.Get,
            BlobUrl(key, null),
            Display(key),
            cancellationToken,
            r =>
            {
                if (offset > 0)
                {
                    r.Headers.TryAddWithoutValidation("x-ms-range", string.Create(CultureInfo.InvariantCulture, $"bytes={offset}-"));
                }
            },
            HttpCompletionOption.ResponseHeadersRead);
        return await HttpTransport.BodyAsync(response, cancellationToken);
    }

    public Task<IUpload> StartUploadAsync(string key, UploadOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<IUpload>(new AzureUpload(this, key, options));

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        using var _ = await SendAsync(HttpMethod.Delete, BlobUrl(key, null), Display(key), cancellationToken, accept: HttpStatusCode.NotFound);
    }

    public Uri PresignGet(string key, DateTimeOffset expiresAt)
    {
        if (credentials.Key is not { } accountKey)
        {
            throw new StagingException(
                $"Signing a URL for {Display(key)} needs the account key (AZURE_STORAGE_KEY or a connection string with AccountKey), not a SAS token.",
                exitCode: Errors.ExitCode.Usage);
        }

        var allowHttp = credentials.BlobEndpoint.Scheme == Uri.UriSchemeHttp;
        var sas = SharedKey.BlobReadSas(credentials.Account, container, key, accountKey, expiresAt, allowHttp);
        return new Uri(BlobUrl(key, null, withSas: false) + "?" + sas);
    }

    internal async Task<HttpResponseMessage> SendAsync(
        HttpMethod method,
        string url,
        string display,
        CancellationToken cancellationToken,
        Action<HttpRequestMessage>? configure = null,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead,
        HttpContent? content = null,
        params HttpStatusCode[] accept)
    {
        return await HttpTransport.SendAsync(
            () =>
            {
                var request = new HttpRequestMessage(method, url) { Content = content is null ? null : new ReadOnlyContent(content) };
                request.Headers.TryAddWithoutValidation("x-ms-date", DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture));
                request.Headers.TryAddWithoutValidation("x-ms-version", SharedKey.Version);
                configure?.Invoke(request);
                if (credentials.Key is { } key)
                {
                    SharedKey.Sign(request, credentials.Account, key);
                }

                return request;
            },
            display,
            cancellationToken,
            completion,
            accept);
    }

    internal string BlobUrl(string key, string? query, bool withSas = true)
    {
        var path = string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
        return WithQuery($"{credentials.BlobEndpoint.ToString().TrimEnd('/')}/{container}/{path}", query, withSas);
    }

    private string ContainerUrl(string query) => WithQuery($"{credentials.BlobEndpoint.ToString().TrimEnd('/')}/{container}", query, true);

    private string WithQuery(string url, string? query, bool withSas)
    {
        var parts = new[] { query, withSas ? credentials.SasToken : null }.Where(p => !string.IsNullOrEmpty(p));
        var q = string.Join('&', parts);
        return q.Length == 0 ? url : url + "?" + q;
    }

    /// <summary>Lets one request body be sent again by a retry: HttpClient disposes the content it sends.</summary>
    private sealed class ReadOnlyContent : HttpContent
    {
        private readonly HttpContent _inner;

        public ReadOnlyContent(HttpContent inner)
        {
            _inner = inner;
            foreach (var (name, values) in inner.Headers.NonValidated)
            {
                Headers.TryAddWithoutValidation(name, values);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream, context);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _inner.CopyToAsync(stream, context, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }
    }
}

using System.Net;
using PgRelocate.Tools;

namespace PgRelocate.Staging.Http;

/// <summary>
/// The one HttpClient the hand-written stores share, and the mapping of HTTP outcomes onto the store
/// contract: 404 is not found, 5xx/408/429 and dropped connections are transient, the rest permanent.
/// </summary>
internal static class HttpTransport
{
    public static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(30),
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        Timeout = TimeSpan.FromMinutes(10),
    };

    /// <summary>Sends the request; a non-success status is thrown as an explained <see cref="StagingException"/>
    /// unless listed in <paramref name="accept"/>.</summary>
    public static async Task<HttpResponseMessage> SendAsync(
        Func<HttpRequestMessage> build, string display, CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, params HttpStatusCode[] accept)
    {
        HttpResponseMessage response;
        using var request = build();
        try
        {
            response = await Client.SendAsync(request, completion, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new StagingException($"{display}: the connection failed ({(e.InnerException ?? e).GetType().Name}).", transient: true, e);
        }

        if (response.IsSuccessStatusCode || accept.Contains(response.StatusCode))
        {
            return response;
        }

        using (response)
        {
            byte[] body;
            try
            {
                body = await ReadHeadAsync(response, 4096, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                body = [];
            }

            if (body.Length == 0 && response.Headers.TryGetValues("x-ms-error-code", out var codes))
            {
                // HEAD answers carry Azure's error code in a header only.
                body = System.Text.Encoding.UTF8.GetBytes($"<Error><Code>{codes.First()}</Code></Error>");
            }

            throw ResponseExplainer.Explain(display, (int)response.StatusCode, body);
        }
    }

    private static async Task<byte[]> ReadHeadAsync(HttpResponseMessage response, int max, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[max];
        var n = 0;
        int r;
        while (n < max && (r = await stream.ReadAsync(buffer.AsMemory(n), cancellationToken)) > 0)
        {
            n += r;
        }

        return buffer[..n];
    }

    /// <summary>A response body stream that disposes its response with it.</summary>
    public static async Task<Stream> BodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        return new OwnedStream(stream, response);
    }
}

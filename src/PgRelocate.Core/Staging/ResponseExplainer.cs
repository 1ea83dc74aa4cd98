using System.Text;
using System.Text.RegularExpressions;

namespace PgRelocate.Staging;

/// <summary>
/// Turns what a store or URL sent back instead of an archive into one line a user can act on: an S3 or
/// Azure XML error (expired, bad signature, denied, missing), an HTML page, an empty body. The body's text
/// is never quoted whole: only the error code and a short message, which hold no secret.
/// </summary>
internal static partial class ResponseExplainer
{
    /// <summary>Explains an error response. <paramref name="status"/> is the HTTP status (0 when unknown).</summary>
    public static StagingException Explain(string display, int status, ReadOnlySpan<byte> body)
    {
        var explained = ExplainBody(display, status, body);
        explained.HttpStatus = status > 0 ? status : null;
        return explained;
    }

    private static StagingException ExplainBody(string display, int status, ReadOnlySpan<byte> body)
    {
        var text = Encoding.UTF8.GetString(body.Length > 4096 ? body[..4096] : body);
        var code = Tag(text, "Code");
        var message = Tag(text, "Message") ?? Tag(text, "AuthenticationErrorDetail") ?? "";
        var newUrl = "make a new one with 'pgrelocate url LOCATION'";

        if (message.Contains("expired", StringComparison.OrdinalIgnoreCase)
            || (message.Contains("Signed expiry time", StringComparison.OrdinalIgnoreCase)))
        {
            return new StagingException($"The signed URL for {display} has expired ({code ?? "403"}): {newUrl} and run the command again.");
        }

        switch (code)
        {
            case "SignatureDoesNotMatch" or "AuthenticationFailed" when status is 403 or 0:
                return new StagingException($"{display} refused the request's signature ({code}): the URL was changed or cut while copying, or the key is wrong; {newUrl}.");
            case "AccessDenied" or "AuthorizationPermissionMismatch" or "AuthorizationFailure" or "InvalidAccessKeyId" or "InvalidSecurityToken":
                return new StagingException($"{display} denied access ({code}{(message.Length > 0 ? ": " + Short(message) : "")}): check the credentials and the bucket's permissions, or {newUrl}.");
            case "NoSuchKey" or "BlobNotFound" or "ResourceNotFound":
                return new StagingNotFoundException($"{display} does not exist ({code}): check the key, or stage the archive first with 'pgrelocate dump --to'.");
            case "NoSuchBucket" or "ContainerNotFound":
                return new StagingNotFoundException($"The bucket or container of {display} does not exist ({code}): create it, or pass --create-bucket when writing.");
            case "SlowDown" or "ServerBusy" or "InternalError" or "OperationTimedOut" or "ServiceUnavailable":
                return new StagingException($"{display} is busy or failing ({code}); try again shortly.", transient: true);
        }

        if (code is not null)
        {
            return new StagingException($"{display} answered {(status > 0 ? "HTTP " + status + " " : "")}{code}{(message.Length > 0 ? ": " + Short(message) : "")}.", transient: IsTransientStatus(status));
        }

        if (text.Contains("<html", StringComparison.OrdinalIgnoreCase) || text.Contains("<!doctype", StringComparison.OrdinalIgnoreCase))
        {
            var title = Tag(text, "title");
            return new StagingException($"{display} returned an HTML page{(title is null ? "" : $" ('{Short(title)}')")}{(status > 0 ? $" (HTTP {status})" : "")}, not a pg_dump archive: the URL points at a web page (a login or a preview), not at the file.");
        }

        return status switch
        {
            404 => new StagingNotFoundException($"{display} does not exist (HTTP 404)."),
            401 or 403 => new StagingException($"{display} refused access (HTTP {status}): {newUrl}."),
            _ when IsTransientStatus(status) => new StagingException($"{display} answered HTTP {status}; try again shortly.", transient: true),
            _ when body.Length == 0 => new StagingException($"{display} answered HTTP {status} with an empty body."),
            _ => new StagingException($"{display} answered HTTP {status}."),
        };
    }

    /// <summary>Statuses a repeat may get past; 501 Not Implemented never will.</summary>
    public static bool IsTransientStatus(int status) => status is 408 or 429 or 500 or 502 or 503 or 504;

    private static string? Tag(string text, string name)
    {
        var m = Regex.Match(text, $"<{name}[^>]*>([^<]*)</{name}>", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        return m.Success ? System.Net.WebUtility.HtmlDecode(m.Groups[1].Value.Trim()) : null;
    }

    private static string Short(string s)
    {
        var oneLine = s.ReplaceLineEndings(" ");
        // Error messages of some servers quote the string they signed; it can hold a credential scope, never a
        // secret, but it makes a line unreadable.
        return oneLine.Length > 160 ? oneLine[..160] + "…" : oneLine;
    }
}

using System.Globalization;

namespace PgRelocate.Staging;

/// <summary>
/// The one way a URL that may carry a signature is shown: host and path, plus "(signed, expires HH:MM UTC)"
/// when it is a presigned S3 URL or an Azure SAS. The query string never leaves this class, since any of its
/// parameters may be a credential (X-Amz-Signature, X-Amz-Security-Token, sig).
/// </summary>
public static class SignedUrl
{
    public static string Redact(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var hostPath = url.IsDefaultPort ? $"{url.Scheme}://{url.Host}{url.AbsolutePath}" : $"{url.Scheme}://{url.Host}:{url.Port}{url.AbsolutePath}";
        if (string.IsNullOrEmpty(url.Query) || url.Query == "?")
        {
            return hostPath;
        }

        var expires = ExpiresAt(url);
        return IsSigned(url)
            ? hostPath + (expires is { } e ? string.Create(CultureInfo.InvariantCulture, $" (signed, expires {e.UtcDateTime:HH:mm} UTC)") : " (signed)")
            : hostPath + " (query hidden)";
    }

    /// <summary>Redacts <paramref name="text"/> if it parses as an absolute http(s) URL; returns it unchanged otherwise.</summary>
    public static string Redact(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps) ? Redact(u) : text;

    public static bool IsSigned(Uri url)
    {
        var q = Query(url);
        return q.ContainsKey("X-Amz-Signature") || q.ContainsKey("sig") || q.ContainsKey("Signature");
    }

    /// <summary>When a SigV4 presigned URL (X-Amz-Date + X-Amz-Expires) or a SAS (se) stops working; null if it does not say.</summary>
    public static DateTimeOffset? ExpiresAt(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var q = Query(url);
        if (q.TryGetValue("X-Amz-Date", out var date) && q.TryGetValue("X-Amz-Expires", out var seconds)
            && DateTimeOffset.TryParseExact(date, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt)
            && long.TryParse(seconds, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
        {
            return signedAt.AddSeconds(s);
        }

        if (q.TryGetValue("se", out var se)
            && DateTimeOffset.TryParse(se, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var end))
        {
            return end;
        }

        return null;
    }

    private static Dictionary<string, string> Query(Uri url)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
            result[name] = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..]) : "";
        }

        return result;
    }
}

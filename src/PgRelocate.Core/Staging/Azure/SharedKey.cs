using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PgRelocate.Staging.Azure;

/// <summary>
/// Azure Storage signing with the account key (HMAC-SHA256): the Shared Key Authorization header for our
/// own requests, and read-only service SAS tokens for <c>pgrelocate url</c>.
/// </summary>
internal static class SharedKey
{
    public const string Version = "2021-08-06";

    public static void Sign(HttpRequestMessage request, string account, byte[] key)
    {
        var uri = request.RequestUri!;
        var content = request.Content;
        string Header(string name) =>
            request.Headers.TryGetValues(name, out var v) ? string.Join(',', v)
            : content is not null && content.Headers.TryGetValues(name, out var c) ? string.Join(',', c) : "";
        var length = content?.Headers.ContentLength is { } l && l > 0 ? l.ToString(CultureInfo.InvariantCulture) : "";
        var canonicalHeaders = request.Headers
            .Where(h => h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
            .Select(h => (Name: h.Key.ToLowerInvariant(), Value: string.Join(',', h.Value).Trim()))
            .OrderBy(h => h.Name, StringComparer.Ordinal)
            .Select(h => $"{h.Name}:{h.Value}\n");
        var resource = new StringBuilder().Append('/').Append(account).Append(uri.AbsolutePath);
        var query = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .GroupBy(p => Uri.UnescapeDataString(p[0]).ToLowerInvariant(), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var g in query)
        {
            resource.Append('\n').Append(g.Key).Append(':')
                .Append(string.Join(',', g.Select(p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "").Order(StringComparer.Ordinal)));
        }

        var toSign = string.Join('\n',
            request.Method.Method,
            Header("Content-Encoding"),
            Header("Content-Language"),
            length,
            Header("Content-MD5"),
            Header("Content-Type"),
            "", // Date: x-ms-date is sent instead
            Header("If-Modified-Since"),
            Header("If-Match"),
            Header("If-None-Match"),
            Header("If-Unmodified-Since"),
            Header("Range")) + "\n" + string.Concat(canonicalHeaders) + resource;
        request.Headers.TryAddWithoutValidation("Authorization", $"SharedKey {account}:{Hmac(key, toSign)}");
    }

    /// <summary>A service SAS for one blob, read only, valid until <paramref name="expiresAt"/>; HTTPS only unless the endpoint is http.</summary>
    public static string BlobReadSas(string account, string container, string blob, byte[] key, DateTimeOffset expiresAt, bool allowHttp)
    {
        const string permissions = "r";
        var start = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var expiry = expiresAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var protocol = allowHttp ? "https,http" : "https";
        var toSign = string.Join('\n',
            permissions,
            start,
            expiry,
            $"/blob/{account}/{container}/{blob}",
            "", // signed identifier
            "", // signed IP
            protocol,
            Version,
            "b", // signed resource: a blob
            "", // snapshot time
            "", // encryption scope
            "", "", "", "", ""); // rscc, rscd, rsce, rscl, rsct
        var sig = Hmac(key, toSign);
        return $"sv={Version}&sr=b&sp={permissions}&st={Uri.EscapeDataString(start)}&se={Uri.EscapeDataString(expiry)}&spr={Uri.EscapeDataString(protocol)}&sig={Uri.EscapeDataString(sig)}";
    }

    private static string Hmac(byte[] key, string text) => Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text)));
}

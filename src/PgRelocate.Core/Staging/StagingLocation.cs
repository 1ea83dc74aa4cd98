using PgRelocate.Errors;

namespace PgRelocate.Staging;

public enum LocationKind
{
    Local,
    S3,
    Azure,
    Http,
}

/// <summary>
/// Where an archive is: a path or <c>file://</c> URL, <c>s3://BUCKET/KEY</c>, <c>azure://ACCOUNT/CONTAINER/BLOB</c>,
/// or (read only) an <c>http(s)://</c> URL such as a presigned or SAS URL. <see cref="ToString"/> is safe to print.
/// </summary>
public sealed record StagingLocation
{
    private StagingLocation(LocationKind kind, string key)
    {
        Kind = kind;
        Key = key;
    }

    public LocationKind Kind { get; }

    /// <summary>The object's key inside its container: an S3 key, a blob name, a file path; for HTTP the whole URL.</summary>
    public string Key { get; private init; }

    /// <summary>The S3 bucket or Azure container; null for local files and URLs.</summary>
    public string? Container { get; private init; }

    /// <summary>The Azure storage account.</summary>
    public string? Account { get; private init; }

    /// <summary>The URL of an HTTP location.</summary>
    public Uri? Url { get; private init; }

    public bool IsRemote => Kind != LocationKind.Local;

    /// <summary>
    /// The location of the manifest stored next to this archive (<c>KEY.manifest.json</c>): for a URL, the same URL
    /// with <c>.manifest.json</c> after its path; null for a signed URL, whose signature covers the archive's path only.
    /// </summary>
    public StagingLocation? Manifest => Kind switch
    {
        LocationKind.Http when SignedUrl.IsSigned(Url!) => null,
        LocationKind.Http => Parse(new UriBuilder(Url!) { Path = Url!.AbsolutePath + ".manifest.json" }.Uri.AbsoluteUri),
        _ => this with { Key = Key + ".manifest.json" },
    };

    /// <exception cref="UsageException">The text is none of the accepted forms.</exception>
    public static StagingLocation Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().Trim('"', '\'', '“', '”', '‘', '’');
        if (t.Length == 0)
        {
            throw new UsageException("The location is empty: give a path, s3://BUCKET/KEY, azure://ACCOUNT/CONTAINER/BLOB or an https:// URL.");
        }

        var schemeEnd = t.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return new StagingLocation(LocationKind.Local, Path.GetFullPath(t));
        }

        var scheme = t[..schemeEnd].ToLowerInvariant();
        var rest = t[(schemeEnd + 3)..];
        switch (scheme)
        {
            case "file":
                var uri = new Uri(t);
                return new StagingLocation(LocationKind.Local, Path.GetFullPath(uri.LocalPath));
            case "s3":
            {
                var slash = rest.IndexOf('/', StringComparison.Ordinal);
                if (slash <= 0 || slash == rest.Length - 1)
                {
                    throw new UsageException($"'{t}' has no bucket or key: write s3://BUCKET/path/to/archive.dump.");
                }

                return new StagingLocation(LocationKind.S3, rest[(slash + 1)..]) { Container = rest[..slash] };
            }

            case "azure":
            {
                var parts = rest.Split('/', 3);
                if (parts.Length < 3 || parts.Any(p => p.Length == 0))
                {
                    throw new UsageException($"'{t}' is not azure://ACCOUNT/CONTAINER/BLOB: give the storage account, the container and the blob name.");
                }

                return new StagingLocation(LocationKind.Azure, parts[2]) { Account = parts[0], Container = parts[1] };
            }

            case "http" or "https":
                if (!Uri.TryCreate(t, UriKind.Absolute, out var url) || url.Host.Length == 0)
                {
                    throw new UsageException($"'{SignedUrl.Redact(t)}' is not a valid URL.");
                }

                return new StagingLocation(LocationKind.Http, url.AbsoluteUri) { Url = url };
            default:
                throw new UsageException($"'{scheme}://' is not a location this tool reads: use a path, s3://, azure://, http:// or https://.");
        }
    }

    /// <summary>The location for messages: a signed URL is shown as host and path with its expiry only.</summary>
    public override string ToString() => Kind switch
    {
        LocationKind.Local => Key,
        LocationKind.S3 => $"s3://{Container}/{Key}",
        LocationKind.Azure => $"azure://{Account}/{Container}/{Key}",
        _ => SignedUrl.Redact(Url!),
    };
}

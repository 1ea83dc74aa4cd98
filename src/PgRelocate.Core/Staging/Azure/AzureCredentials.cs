using PgRelocate.Errors;

namespace PgRelocate.Staging.Azure;

/// <summary>
/// An Azure storage account's blob endpoint and how to sign for it: an account key (Shared Key, and service
/// SAS for <c>pgrelocate url</c>) or a SAS token appended to every request. <see cref="ToString"/> shows neither.
/// </summary>
internal sealed class AzureCredentials
{
    private AzureCredentials(string account, Uri blobEndpoint, byte[]? key, string? sasToken)
    {
        Account = account;
        BlobEndpoint = blobEndpoint;
        Key = key;
        SasToken = sasToken;
    }

    public string Account { get; }

    /// <summary>The blob service URL without a trailing slash, for example https://ACCOUNT.blob.core.windows.net.</summary>
    public Uri BlobEndpoint { get; }

    internal byte[]? Key { get; }

    internal string? SasToken { get; }

    /// <summary>
    /// From AZURE_STORAGE_CONNECTION_STRING, else AZURE_STORAGE_KEY, else AZURE_STORAGE_SAS_TOKEN, for the
    /// account named in the location; <c>--endpoint-url</c> replaces the blob endpoint (Azurite, sovereign clouds).
    /// </summary>
    public static AzureCredentials Resolve(string account, StagingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Uri? endpoint = options.EndpointUrl is { } e ? ParseEndpoint(e) : null;
        if (options.Env("AZURE_STORAGE_CONNECTION_STRING") is { } cs)
        {
            var parts = cs.Split(';', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=', 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            var name = parts.GetValueOrDefault("AccountName") ?? account;
            if (!string.Equals(name, account, StringComparison.Ordinal))
            {
                throw new UsageException($"AZURE_STORAGE_CONNECTION_STRING is for account '{name}', but the location names '{account}'.");
            }

            endpoint ??= parts.GetValueOrDefault("BlobEndpoint") is { } be ? ParseEndpoint(be)
                : new Uri($"{parts.GetValueOrDefault("DefaultEndpointsProtocol") ?? "https"}://{account}.blob.{parts.GetValueOrDefault("EndpointSuffix") ?? "core.windows.net"}");
            var key = parts.GetValueOrDefault("AccountKey");
            var sas = parts.GetValueOrDefault("SharedAccessSignature");
            if (key is null && sas is null)
            {
                throw new UsageException("AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor SharedAccessSignature.");
            }

            return new AzureCredentials(account, endpoint, key is null ? null : DecodeKey(key), sas?.TrimStart('?'));
        }

        endpoint ??= new Uri($"https://{account}.blob.core.windows.net");
        if (options.Env("AZURE_STORAGE_KEY") is { } accountKey)
        {
            return new AzureCredentials(account, endpoint, DecodeKey(accountKey), null);
        }

        if (options.Env("AZURE_STORAGE_SAS_TOKEN") is { } token)
        {
            return new AzureCredentials(account, endpoint, null, token.TrimStart('?'));
        }

        throw new UsageException("No Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY (the account key) or AZURE_STORAGE_SAS_TOKEN.");
    }

    public override string ToString() => $"Azure account {Account} at {BlobEndpoint}";

    private static Uri ParseEndpoint(string text) =>
        Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)
            ? u
            : throw new UsageException($"The blob endpoint '{SignedUrl.Redact(text)}' is not an http(s) URL.");

    private static byte[] DecodeKey(string key)
    {
        try
        {
            return Convert.FromBase64String(key);
        }
        catch (FormatException e)
        {
            throw new UsageException("The Azure account key is not base64: copy it again from the portal (Access keys).", e);
        }
    }
}

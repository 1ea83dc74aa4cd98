namespace PgRelocate.Staging;

/// <summary>What the user said about reaching a store: the AWS CLI's flags, and ours.</summary>
public sealed record StagingOptions
{
    public string? Profile { get; init; }

    public string? Region { get; init; }

    public string? EndpointUrl { get; init; }

    /// <summary>aws, linode, vultr, digitalocean, upcloud, gcs: fills in the endpoint and addressing from the region.</summary>
    public string? Provider { get; init; }

    /// <summary>AES256 (default), aws:kms, or none.</summary>
    public string? Sse { get; init; }

    public string? SseKmsKeyId { get; init; }

    /// <summary>The environment to read credentials from; null for the process environment.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    internal string? Env(string name) =>
        Environment is null ? System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null
        : Environment.GetValueOrDefault(name) is { Length: > 0 } e ? e : null;
}

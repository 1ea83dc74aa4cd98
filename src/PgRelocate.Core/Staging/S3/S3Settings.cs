namespace PgRelocate.Staging.S3;

/// <summary>
/// Everything needed to talk to one S3 or S3-compatible service, resolved the way the AWS CLI resolves it
/// (<see cref="S3SettingsResolver"/>). The secret and token are only handed to the SDK.
/// </summary>
internal sealed record S3Settings
{
    public required string AccessKeyId { get; init; }

    public required string SecretAccessKey { get; init; }

    public string? SessionToken { get; init; }

    public string Region { get; init; } = "us-east-1";

    /// <summary>A custom endpoint (S3-compatible providers, test servers); null for AWS.</summary>
    public Uri? Endpoint { get; init; }

    public bool PathStyle { get; init; }

    /// <summary>Server-side encryption to request: "AES256" (default), "aws:kms", or "none" for stores that refuse the header.</summary>
    public string ServerSideEncryption { get; init; } = "AES256";

    public string? KmsKeyId { get; init; }

    public int PartSize { get; init; } = 8 << 20;

    public override string ToString() => $"S3 {Endpoint?.ToString() ?? "AWS"} region {Region}";
}

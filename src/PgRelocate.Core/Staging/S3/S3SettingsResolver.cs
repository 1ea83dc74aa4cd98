using PgRelocate.Errors;

namespace PgRelocate.Staging.S3;

/// <summary>
/// Resolves credentials, region and endpoint in the AWS CLI's order: flags, then AWS_* variables, then the
/// profile; provider presets fill in an endpoint from the region for S3-compatible services.
/// </summary>
internal static class S3SettingsResolver
{
    public static S3Settings Resolve(StagingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var profileName = options.Profile ?? options.Env("AWS_PROFILE");
        var profile = AwsConfigFiles.Profile(profileName ?? "default", options);
        if (options.Profile is not null && profile.Count == 0)
        {
            throw new UsageException($"--profile {options.Profile}: no such profile in ~/.aws/credentials or ~/.aws/config (create it with 'aws configure --profile {options.Profile}').");
        }

        // An explicit profile wins over the environment's keys, as in the AWS CLI.
        string? FromProfile(string key) => profile.GetValueOrDefault(key) is { Length: > 0 } v ? v : null;
        var fromProfileFirst = options.Profile is not null;
        var accessKey = fromProfileFirst ? FromProfile("aws_access_key_id") ?? options.Env("AWS_ACCESS_KEY_ID") : options.Env("AWS_ACCESS_KEY_ID") ?? FromProfile("aws_access_key_id");
        var secret = fromProfileFirst ? FromProfile("aws_secret_access_key") ?? options.Env("AWS_SECRET_ACCESS_KEY") : options.Env("AWS_SECRET_ACCESS_KEY") ?? FromProfile("aws_secret_access_key");
        var token = fromProfileFirst ? FromProfile("aws_session_token") : options.Env("AWS_SESSION_TOKEN") ?? FromProfile("aws_session_token");
        if (accessKey is null || secret is null)
        {
            throw new UsageException("No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile NAME (a profile of ~/.aws/credentials).");
        }

        var provider = options.Provider?.ToLowerInvariant();
        var region = options.Region ?? options.Env("AWS_REGION") ?? options.Env("AWS_DEFAULT_REGION") ?? FromProfile("region");
        var endpoint = options.EndpointUrl ?? options.Env("AWS_ENDPOINT_URL_S3") ?? options.Env("AWS_ENDPOINT_URL") ?? FromProfile("endpoint_url");
        var pathStyle = false;
        if (endpoint is null && provider is not null and not "aws")
        {
            (endpoint, pathStyle, region) = Preset(provider, region);
        }
        else if (provider is not null and not ("aws" or "linode" or "vultr" or "digitalocean" or "upcloud" or "gcs"))
        {
            throw new UsageException($"--provider {provider} is not one of aws, linode, vultr, digitalocean, upcloud, gcs.");
        }

        Uri? endpointUri = null;
        if (endpoint is not null)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out endpointUri) || (endpointUri.Scheme != Uri.UriSchemeHttp && endpointUri.Scheme != Uri.UriSchemeHttps))
            {
                throw new UsageException($"--endpoint-url '{endpoint}' is not an http(s) URL.");
            }

            // Custom endpoints: path-style always works, virtual-hosted needs DNS per bucket.
            pathStyle = true;
        }

        var sse = (options.Sse ?? "AES256") switch
        {
            "AES256" or "aes256" => "AES256",
            "aws:kms" => "aws:kms",
            "none" => "none",
            var other => throw new UsageException($"--sse {other} is not one of AES256, aws:kms, none."),
        };
        if (options.SseKmsKeyId is not null && sse != "aws:kms")
        {
            throw new UsageException("--sse-kms-key-id needs --sse aws:kms.");
        }

        return new S3Settings
        {
            AccessKeyId = accessKey,
            SecretAccessKey = secret,
            SessionToken = token,
            Region = region ?? (provider == "gcs" ? "auto" : "us-east-1"),
            Endpoint = endpointUri,
            PathStyle = pathStyle,
            ServerSideEncryption = sse,
            KmsKeyId = options.SseKmsKeyId,
        };
    }

    private static (string Endpoint, bool PathStyle, string? Region) Preset(string provider, string? region)
    {
        string NeedRegion(string example) => region ?? throw new UsageException($"--provider {provider} needs --region (for example {example}).");
        return provider switch
        {
            "linode" => ($"https://{NeedRegion("us-east-1")}.linodeobjects.com", false, region),
            "vultr" => ($"https://{NeedRegion("ewr1")}.vultrobjects.com", true, region),
            "digitalocean" => ($"https://{NeedRegion("nyc3")}.digitaloceanspaces.com", false, region),
            "gcs" => ("https://storage.googleapis.com", true, region ?? "auto"),
            "upcloud" => throw new UsageException("--provider upcloud: each UpCloud object storage has its own endpoint; pass it with --endpoint-url https://NAME.upcloudobjects.com."),
            _ => throw new UsageException($"--provider {provider} is not one of aws, linode, vultr, digitalocean, upcloud, gcs."),
        };
    }
}

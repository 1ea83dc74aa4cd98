using System.CommandLine;
using PgRelocate.Staging;

namespace PgRelocate.Cli;

/// <summary>The options of every command that takes a location (s3://, azure://, a URL): the AWS CLI's, and ours.</summary>
internal static class StagingCliOptions
{
    public static readonly Option<string?> Profile = new("--profile") { Description = "S3: a profile of ~/.aws/credentials and ~/.aws/config (as the AWS CLI's --profile)." };
    public static readonly Option<string?> Region = new("--region") { Description = "S3: the region (default: AWS_REGION, the profile, us-east-1)." };
    public static readonly Option<string?> EndpointUrl = new("--endpoint-url") { Description = "S3 or Azure: a non-default endpoint (S3-compatible providers, Azurite); default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL." };
    public static readonly Option<string?> Provider = new("--provider") { Description = "S3: aws, linode, vultr, digitalocean, upcloud or gcs: the endpoint and addressing style from --region." };
    public static readonly Option<string?> Sse = new("--sse") { Description = "S3 server-side encryption: AES256 (default), aws:kms, or none for stores that refuse the header." };
    public static readonly Option<string?> SseKmsKeyId = new("--sse-kms-key-id") { Description = "S3: the KMS key for --sse aws:kms." };

    /// <summary>dump --to and migrate --via: a store's bucket or container made when it is missing (not in <see cref="All"/>: only the commands that write take it).</summary>
    public static readonly Option<bool> CreateBucket = new("--create-bucket") { Description = "Create the bucket or container when it is missing (private, encrypted where the store offers it)." };

    public static IEnumerable<Option> All => [Profile, Region, EndpointUrl, Provider, Sse, SseKmsKeyId];

    public static void AddTo(Command command)
    {
        foreach (var o in All)
        {
            command.Options.Add(o);
        }
    }

    public static StagingOptions Read(ParseResult parse) => new()
    {
        Profile = parse.GetValue(Profile),
        Region = parse.GetValue(Region),
        EndpointUrl = parse.GetValue(EndpointUrl),
        Provider = parse.GetValue(Provider),
        Sse = parse.GetValue(Sse),
        SseKmsKeyId = parse.GetValue(SseKmsKeyId),
    };
}

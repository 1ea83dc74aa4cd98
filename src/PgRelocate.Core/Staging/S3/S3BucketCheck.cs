using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace PgRelocate.Staging.S3;

/// <summary>
/// Before a write: the bucket exists (or is created private, with default encryption where the store offers
/// it), and is not readable by everyone unless the user allows it. Stores that cannot answer a question
/// (many S3-compatible ones lack ACLs or bucket encryption) are said to be unable to, not treated as failing.
/// </summary>
internal static class S3BucketCheck
{
    private const string AllUsers = "http://acs.amazonaws.com/groups/global/AllUsers";
    private const string AuthenticatedUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

    public static async Task<IReadOnlyList<string>> RunAsync(S3Store store, bool create, bool allowPublic, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var display = $"s3://{store.Bucket}";
        try
        {
            if (!await ExistsAsync(store, cancellationToken))
            {
                if (!create)
                {
                    throw new StagingNotFoundException($"The bucket {display} does not exist: create it, or pass --create-bucket to create it private and encrypted.");
                }

                await store.Client.PutBucketAsync(new PutBucketRequest { BucketName = store.Bucket, CannedACL = S3CannedACL.Private }, cancellationToken);
                notes.Add($"Created the private bucket {display}.");
                notes.Add(await SetDefaultEncryptionAsync(store, cancellationToken));
            }

            var grants = await PublicGrantsAsync(store, cancellationToken);
            if (grants is null)
            {
                notes.Add($"The store cannot tell whether {display} is public (no bucket ACLs); make sure it is private.");
            }
            else if (grants.Count > 0 && !allowPublic)
            {
                throw new StagingException(
                    $"The bucket {display} is open to the public ({string.Join(", ", grants)}): a database dump must not be. Make it private, or pass --allow-public if you really mean it.",
                    exitCode: Errors.ExitCode.Usage);
            }

            return notes;
        }
        catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
        {
            throw S3Errors.Map(e, display);
        }
    }

    private static async Task<bool> ExistsAsync(S3Store store, CancellationToken cancellationToken)
    {
        try
        {
            await store.Client.GetBucketLocationAsync(new GetBucketLocationRequest { BucketName = store.Bucket }, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private static async Task<List<string>?> PublicGrantsAsync(S3Store store, CancellationToken cancellationToken)
    {
        try
        {
            var acl = await store.Client.GetBucketAclAsync(new GetBucketAclRequest { BucketName = store.Bucket }, cancellationToken);
            return acl.Grants
                .Where(g => g.Grantee?.URI is AllUsers or AuthenticatedUsers)
                .Select(g => $"{(g.Grantee.URI == AllUsers ? "everyone" : "any AWS user")} may {g.Permission.Value}")
                .ToList();
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.BadRequest || e.ErrorCode == "NotImplemented")
        {
            return null;
        }
    }

    private static async Task<string> SetDefaultEncryptionAsync(S3Store store, CancellationToken cancellationToken)
    {
        var algorithm = store.Settings.ServerSideEncryption == "aws:kms" ? ServerSideEncryptionMethod.AWSKMS : ServerSideEncryptionMethod.AES256;
        try
        {
            await store.Client.PutBucketEncryptionAsync(
                new PutBucketEncryptionRequest
                {
                    BucketName = store.Bucket,
                    ServerSideEncryptionConfiguration = new ServerSideEncryptionConfiguration
                    {
                        ServerSideEncryptionRules =
                        [
                            new ServerSideEncryptionRule
                            {
                                ServerSideEncryptionByDefault = new ServerSideEncryptionByDefault
                                {
                                    ServerSideEncryptionAlgorithm = algorithm,
                                    ServerSideEncryptionKeyManagementServiceKeyId = store.Settings.KmsKeyId,
                                },
                            },
                        ],
                    },
                },
                cancellationToken);
            return $"Default encryption ({algorithm.Value}) is on for s3://{store.Bucket}.";
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed || e.ErrorCode == "NotImplemented")
        {
            return $"The store does not offer default bucket encryption for s3://{store.Bucket}; each upload still asks for it.";
        }
    }
}

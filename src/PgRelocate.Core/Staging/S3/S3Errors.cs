using System.Net;
using Amazon.Runtime;
using Amazon.S3;

namespace PgRelocate.Staging.S3;

/// <summary>Maps SDK exceptions onto the store contract: not found, permanent, transient, with a message that holds no secret.</summary>
internal static class S3Errors
{
    public static StagingException Map(Exception e, string display)
    {
        switch (e)
        {
            case AmazonS3Exception s3 when s3.ErrorCode == "NoSuchBucket":
                return new StagingNotFoundException($"The bucket of {display} does not exist: create it, or pass --create-bucket to create it private and encrypted.", e);
            case AmazonServiceException s when s.StatusCode != 0 && !string.IsNullOrEmpty(s.ErrorCode):
            {
                var body = $"<Error><Code>{s.ErrorCode}</Code><Message>{System.Security.SecurityElement.Escape(s.Message)}</Message></Error>";
                return Wrap(ResponseExplainer.Explain(display, (int)s.StatusCode, System.Text.Encoding.UTF8.GetBytes(body)), e);
            }

            case AmazonServiceException s when s.StatusCode == HttpStatusCode.NotFound:
                return new StagingNotFoundException($"{display} does not exist.", e);
            case AmazonServiceException s when ResponseExplainer.IsTransientStatus((int)s.StatusCode):
                return new StagingException($"{display}: the server answered HTTP {(int)s.StatusCode}; try again shortly.", transient: true, e);
            case AmazonServiceException s when s.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized:
                return new StagingException($"{display}: access denied (HTTP {(int)s.StatusCode}): check the credentials and the bucket's permissions.", innerException: e);
            default:
                // No HTTP status: the connection failed or dropped (AmazonClientException, IOException, HttpRequestException).
                return new StagingException($"{display}: the connection to the object store failed ({Root(e).GetType().Name}).", transient: true, e);
        }
    }

    private static StagingException Wrap(StagingException explained, Exception inner) => explained switch
    {
        StagingNotFoundException => new StagingNotFoundException(explained.Message, inner),
        _ => new StagingException(explained.Message, explained.IsTransient, inner, explained.ExitCode),
    };

    private static Exception Root(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }
}

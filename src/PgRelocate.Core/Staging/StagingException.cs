using PgRelocate.Errors;

namespace PgRelocate.Staging;

/// <summary>A staging store failed. Its message names the object (redacted) and what to do next.</summary>
public class StagingException : PgRelocateException
{
    public StagingException(string message, bool transient = false, Exception? innerException = null, ExitCode exitCode = ExitCode.Failed)
        : base(message, exitCode, innerException)
    {
        IsTransient = transient;
    }

    /// <summary>The HTTP status the store or URL answered with, when it answered one (see <see cref="ResponseExplainer"/>).</summary>
    public int? HttpStatus { get; internal set; }
}

/// <summary>The object, or the bucket or container holding it, does not exist. Permanent.</summary>
public sealed class StagingNotFoundException(string message, Exception? innerException = null)
    : StagingException(message, false, innerException);

namespace PgRelocate.Errors;

/// <summary>
/// An error meant for the user: its message is one line that says what went wrong and what to do next,
/// printed without a stack trace. Anything that is not a <see cref="PgRelocateException"/> is a bug or an
/// unexpected failure and is reported as such.
/// </summary>
public class PgRelocateException : Exception
{
    public PgRelocateException(string message, ExitCode exitCode = ExitCode.Failed, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    public ExitCode ExitCode { get; }

    /// <summary>True when trying the same operation again may succeed (network drop, server restarting).</summary>
    public bool IsTransient { get; init; }
}

/// <summary>Bad input the user must correct: exit code 2.</summary>
public sealed class UsageException(string message, Exception? innerException = null)
    : PgRelocateException(message, ExitCode.Usage, innerException);

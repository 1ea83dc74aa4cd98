namespace PgRelocate.Progress;

/// <summary>
/// How the engine tells the outside world what it is doing. The engine never writes to the console:
/// the command line draws bars or prints lines, tests record, a migration journal keeps log lines.
/// Implementations must be thread-safe: parallel workers report at once.
/// </summary>
public interface IReporter
{
    /// <summary>A line for the log. Messages never contain secrets: pass redacted values only.</summary>
    void Log(LogLevel level, string message);

    /// <summary>The latest state of one task; a task is identified by its <see cref="ProgressUpdate.Task"/> name.</summary>
    void Progress(ProgressUpdate update);
}

public enum LogLevel
{
    Debug,
    Info,
    Warning,
    Error,
}

/// <summary>
/// A snapshot of one task's progress. <paramref name="Total"/> is null when the end is unknown
/// (a dump's byte count); <paramref name="Detail"/> names the current object.
/// </summary>
public sealed record ProgressUpdate(
    string Task,
    long Done,
    long? Total = null,
    string Unit = "",
    string? Detail = null,
    long? Bytes = null,
    bool Finished = false);

/// <summary>A reporter that drops everything.</summary>
internal sealed class NullReporter : IReporter
{
    public static readonly NullReporter Instance = new();

    public void Log(LogLevel level, string message)
    {
    }

    public void Progress(ProgressUpdate update)
    {
    }
}

public static class ReporterExtensions
{
    public static void Info(this IReporter reporter, string message) => reporter.Log(LogLevel.Info, message);

    public static void Warn(this IReporter reporter, string message) => reporter.Log(LogLevel.Warning, message);

    public static void Debug(this IReporter reporter, string message) => reporter.Log(LogLevel.Debug, message);
}

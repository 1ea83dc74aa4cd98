using System.Net.Sockets;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Errors;

/// <summary>
/// Sorts an exception that reached the top of a command (or of a migration step) into what the user must
/// hear: a <see cref="PgRelocateException"/> as it is; a driver, network or file error as one line with the
/// next step (an operational failure, exit 1); anything else as a bug (exit 70) to be reported, stack kept.
/// </summary>
public static class Failures
{
    /// <summary>What to tell the user about <paramref name="e"/>; null when it is a bug.</summary>
    public static PgRelocateException? Operational(Exception e) => e switch
    {
        PgRelocateException p => p,
        IOException io when DiskSpace.IsFull(io) => DiskSpace.Describe(io, null),
        // A session that broke where no caller named its side: the driver's error in words, with the next step.
        _ when Db.IsDriverFailure(e) => Db.Describe(e, null, null, connected: true),
        PostgresException p => new PgRelocateException(
            $"The database server said: {p.MessageText} ({p.SqlState}).{Db.HintOf(p)} Fix what it names, then run the command again.", ExitCode.Failed, e),
        NpgsqlException { InnerException: TimeoutException } => new PgRelocateException(
            "A database server stopped answering (timeout): check the network and the server, then run the command again.", ExitCode.Failed, e)
        { IsTransient = true },
        NpgsqlException n => new PgRelocateException(
            $"The connection to a database server failed: {Short(n)}. Check the network and the server, then run the command again.", ExitCode.Failed, e)
        { IsTransient = n.IsTransient },
        SocketException s => new PgRelocateException(
            $"A network connection failed: {s.Message}. Check the network, then run the command again.", ExitCode.Failed, e)
        { IsTransient = true },
        TimeoutException => new PgRelocateException(
            $"An operation timed out: {e.Message} Check the network and the servers, then run the command again.", ExitCode.Failed, e)
        { IsTransient = true },
        IOException io => new PgRelocateException(
            $"A read or write failed: {io.Message}. Check the file or connection it names, then run the command again.", ExitCode.Failed, e),
        UnauthorizedAccessException u => new PgRelocateException(
            $"Permission denied: {u.Message} Fix the permissions or choose another folder.", ExitCode.Failed, e),
        AggregateException { InnerExceptions.Count: 1 } a => Operational(a.InnerExceptions[0]),
        _ => null,
    };

    /// <summary>The one line that reports a bug, asking for it to be reported with the details -v shows.</summary>
    public static string BugMessage(Exception e) =>
        $"PgRelocate failed unexpectedly ({e.GetType().Name}: {FirstLine(e.Message)}). This is a bug: please report it with the output of the same command run with -v.";

    private static string Short(NpgsqlException n)
    {
        // The driver's own message is generic ("Exception while reading from stream"); the socket's says what happened.
        var inner = n.InnerException;
        while (inner is not null and not SocketException && inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        var text = inner is null ? n.Message : $"{FirstLine(n.Message).TrimEnd('.')} ({FirstLine(inner.Message).TrimEnd('.')})";
        return FirstLine(text).TrimEnd('.');
    }

    private static string FirstLine(string text)
    {
        var i = text.IndexOfAny(['\r', '\n']);
        return i < 0 ? text : text[..i];
    }
}

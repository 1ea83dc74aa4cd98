using System.Net.Sockets;
using Npgsql;

namespace PgRelocate.Errors;

/// <summary>
/// The one rule for "worth trying again": a dropped connection, a restarting server, a terminated session, a
/// server out of connection slots for a moment, a request to an object store that got no answer. A server's
/// refusal of a statement (a constraint, a permission, a syntax error) is not: the same statement would be refused
/// again. A store's answer is judged where it is read (<c>Staging/ResponseExplainer</c>: a timeout, throttling or a
/// 5xx is a <see cref="PgRelocateException"/> that says it is transient); a cancellation never is.
/// </summary>
internal static class Transience
{
    /// <summary>True when the same work, on a new session, may succeed.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        PgRelocateException p => p.IsTransient,
        PostgresException p => IsTransientState(p.SqlState),
        NpgsqlException n => n.IsTransient || n.InnerException is IOException or SocketException or TimeoutException || n.InnerException is null,
        IOException or SocketException or EndOfStreamException or TimeoutException or HttpRequestException => true,
        AggregateException { InnerExceptions.Count: 1 } a => IsTransient(a.InnerExceptions[0]),
        _ => false,
    };

    /// <summary>
    /// True when the server ended this work's transaction to break a deadlock (40P01), anywhere in the exception's
    /// chain: between the tool's own sessions (an apply's DDL and a verification's reads, say) it is a moment's
    /// bad luck, and the same work from its start will not meet the other again. Only work that can begin again
    /// from a stored point (the follow, a verification) treats it so.
    /// </summary>
    public static bool IsDeadlock(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Connection exceptions (class 08), an administrator's or a crash's shutdown (57P01 to 57P03), too many
    /// connections (53300).
    /// </summary>
    public static bool IsTransientState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections;
}

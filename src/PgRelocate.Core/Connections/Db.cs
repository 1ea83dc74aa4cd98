using System.Net.Sockets;
using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Connections;

/// <summary>Opens connections and turns driver errors into one-line messages that say what to do.</summary>
public static class Db
{
    /// <summary>
    /// Opens a connection. <paramref name="role"/> names the side in messages ("source", "target").
    /// </summary>
    /// <exception cref="PgRelocateException">The server could not be reached or refused the login.</exception>
    public static async Task<NpgsqlConnection> OpenAsync(PgConnectionInfo info, string role, CancellationToken cancellationToken)
    {
        var conn = new NpgsqlConnection(info.ToNpgsqlConnectionString());
        try
        {
            await conn.OpenAsync(cancellationToken);
            return conn;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await conn.DisposeAsync();
            throw Describe(e, info, role);
        }
    }

    /// <summary>Runs one statement and returns the first column of the first row.</summary>
    public static async Task<T?> ScalarAsync<T>(NpgsqlConnection conn, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        var value = await cmd.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? default : (T)value;
    }

    public static async Task ExecuteAsync(NpgsqlConnection conn, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A quoted SQL identifier.</summary>
    public static string Ident(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A quoted SQL string literal (standard_conforming_strings on).</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Turns a connection failure into a user-facing error naming the side and the next step.</summary>
    public static PgRelocateException Describe(Exception e, PgConnectionInfo info, string role)
    {
        var where = $"the {role} ({info.Display})";
        var inner = e;
        while (inner is not PostgresException and not SocketException && inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        var message = inner switch
        {
            PostgresException { SqlState: "28P01" } => $"Password authentication failed for user '{info.User}' on {where}: check the password.",
            PostgresException { SqlState: "28000" } p => $"{where} refused the login: {p.MessageText}. Check the user name and the server's access rules.",
            PostgresException { SqlState: "3D000" } => $"Database '{info.Database}' does not exist on {where}: create it or fix the database name in the URL.",
            PostgresException { SqlState: "53300" } => $"{where} has no connection slots left: close other connections or try again later.",
            PostgresException { SqlState: "57P03" } => $"{where} is starting up or shutting down: try again in a moment.",
            PostgresException p => $"{where} said: {p.MessageText} ({p.SqlState}).",
            SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } =>
                $"Host '{info.Host}' of {role} could not be resolved: check the host name in the URL.",
            SocketException { SocketErrorCode: SocketError.ConnectionRefused } =>
                $"Nothing accepts connections at {info.Host}:{info.Port} ({role}): check the host and port, and that the server is running.",
            SocketException s => $"Could not reach {where}: {s.Message}.",
            TimeoutException or NpgsqlException { InnerException: TimeoutException } =>
                $"Timed out connecting to {where}: check the host, port and firewall.",
            _ => $"Could not connect to {where}: {info.Scrub(e.Message)}",
        };
        return new PgRelocateException(message, ExitCode.Failed, e)
        {
            IsTransient = inner is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.TimedOut } or PostgresException { SqlState: "53300" or "57P03" },
        };
    }

    /// <summary>Runs a query and maps each row; keeps callers free of reader plumbing.</summary>
    public static async Task<List<T>> ListAsync<T>(NpgsqlConnection conn, string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    /// <summary>Runs a query that returns exactly one row and maps it.</summary>
    public static async Task<T> SingleAsync<T>(NpgsqlConnection conn, string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken) =>
        (await ListAsync(conn, sql, map, cancellationToken)).Single();

    public static string? NullableString(this NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}

using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Connections;

/// <summary>
/// The one way to open a connection (every session of the tool comes from <see cref="OpenAsync(PgConnectionInfo, string, SessionOptions, CancellationToken)"/>,
/// with libpq's TLS rules), and the one place driver errors become one-line messages that say what to do.
/// </summary>
internal static class Db
{
    /// <summary>The server's hint (" You might need to increase max_locks_per_transaction."), to follow its message; empty when it gives none.</summary>
    public static string HintOf(PostgresException e) => e.Hint is { Length: > 0 } hint ? " " + hint.Trim().TrimEnd('.') + "." : "";

    /// <summary>
    /// Opens a connection. <paramref name="role"/> names the side in messages ("source", "target").
    /// </summary>
    /// <exception cref="PgRelocateException">The server could not be reached, failed a TLS check or refused the login.</exception>
    public static Task<NpgsqlConnection> OpenAsync(PgConnectionInfo info, string role, CancellationToken cancellationToken) =>
        OpenAsync(info, role, SessionOptions.Default, cancellationToken);

    /// <summary>
    /// Opens a connection that accepts the server exactly when libpq (pg_dump, pg_restore, psql) would: the
    /// same sslmode, CA file, host name check, client certificate and target_session_attrs.
    /// </summary>
    /// <exception cref="PgRelocateException">The server could not be reached, failed a TLS check or refused the login.</exception>
    public static async Task<NpgsqlConnection> OpenAsync(PgConnectionInfo info, string role, SessionOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(options);
        var tls = TlsPolicy.For(info);
        tls.CheckFiles(role);
        var conn = await ConnectByLibpqRulesAsync(info, tls, role, options, cancellationToken);

        try
        {
            await CheckSessionAttributesAsync(conn, info, role, cancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens a session and runs <paramref name="settings"/> on it; closed again when they fail.</summary>
    public static async Task<NpgsqlConnection> OpenAsync(PgConnectionInfo info, string role, SessionOptions options, string settings, CancellationToken cancellationToken)
    {
        var conn = await OpenAsync(info, role, options, cancellationToken);
        try
        {
            await ExecuteAsync(conn, settings, cancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Opens the sessions <paramref name="opens"/> make side by side, each open's round trips overlapping the others'
    /// (a server 25 ms away takes about 150 ms to open one); when one fails, those opened are closed and its error thrown.
    /// </summary>
    public static async Task<NpgsqlConnection[]> OpenTogetherAsync(IReadOnlyList<Func<Task<NpgsqlConnection>>> opens)
    {
        var tasks = opens.Select(open => open()).ToArray();
        try
        {
            return await Task.WhenAll(tasks);
        }
        catch
        {
            foreach (var opened in tasks.Where(t => t.IsCompletedSuccessfully))
            {
                await opened.Result.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>
    /// Opens a logical replication session with the same TLS settings and rules as every other session. The
    /// replication protocol's connection takes no certificate callback, so a probe SQL session to the same host
    /// and port is opened first as <see cref="OpenAsync(PgConnectionInfo, string, SessionOptions, CancellationToken)"/> opens one
    /// (libpq's checks: the CA file in every TLS mode, the CRL, the host name, target_session_attrs); the
    /// replication session then connects as the probe did: without TLS where the probe had none (prefer's fallback),
    /// else with the driver's own checks against the same CA file (verify-ca at least whenever libpq verifies).
    /// </summary>
    /// <exception cref="PgRelocateException">The server could not be reached, failed a TLS check or refused the login.</exception>
    public static async Task<Npgsql.Replication.LogicalReplicationConnection> OpenReplicationAsync(PgConnectionInfo info, string role, string applicationName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        var tls = TlsPolicy.For(info);
        tls.CheckFiles(role);
        var builder = info.ToNpgsqlBuilder();
        builder.ApplicationName = applicationName;
        if (tls.UsesTls)
        {
            var probe = await ConnectByLibpqRulesAsync(info, tls, role, SessionOptions.Default with { ApplicationName = applicationName + " probe" }, cancellationToken);
            bool encrypted;
            try
            {
                await CheckSessionAttributesAsync(probe, info, role, cancellationToken);
                encrypted = await ScalarAsync<bool>(probe, "SELECT coalesce((SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()), false)", cancellationToken);
            }
            finally
            {
                await probe.DisposeAsync();
            }

            tls.ApplyToReplication(builder, encrypted);
        }

        var replication = new Npgsql.Replication.LogicalReplicationConnection(builder.ConnectionString)
        {
            WalReceiverStatusInterval = TimeSpan.FromSeconds(1),
        };
        try
        {
            await replication.Open(cancellationToken);
            return replication;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await replication.DisposeAsync();
            throw Describe(e, info, role, connected: false);
        }
    }

    /// <summary>
    /// Connects by libpq's TLS rules: prefer is retried without TLS when the TLS session fails its checks. A server
    /// short of connection slots (SQLSTATE 53300) is asked again for up to <see cref="SlotWait"/>: a session closed a
    /// moment before (this tool's checks', its estimate's, a stopped copy's, a previous run's) keeps its slot until its
    /// server process has exited, a few milliseconds after the close, and the tool often opens the next right after.
    /// A server that stays full is refused as before.
    /// </summary>
    private static Task<NpgsqlConnection> ConnectByLibpqRulesAsync(PgConnectionInfo info, TlsPolicy tls, string role, SessionOptions options, CancellationToken cancellationToken) =>
        TryAgain.ForAsync(
            SlotWait,
            e => e is PgRelocateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.TooManyConnections } },
            ct => ConnectOnceAsync(info, tls, role, options, ct),
            cancellationToken);

    /// <summary>How long a session waits for a connection slot that sessions closed a moment before still hold.</summary>
    private static readonly TimeSpan SlotWait = TimeSpan.FromSeconds(2);

    private static async Task<NpgsqlConnection> ConnectOnceAsync(PgConnectionInfo info, TlsPolicy tls, string role, SessionOptions options, CancellationToken cancellationToken)
    {
        try
        {
            try
            {
                return await ConnectAsync(info, tls, options, withoutTls: false, cancellationToken);
            }
            catch (NpgsqlException e) when (tls.Mode == "prefer" && Find<TlsVerificationException>(e) is not null)
            {
                // libpq's prefer: a TLS session that fails its checks is retried without TLS.
                return await ConnectAsync(info, tls, options, withoutTls: true, cancellationToken);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw Describe(e, info, role, connected: false);
        }
    }

    private static async Task<NpgsqlConnection> ConnectAsync(PgConnectionInfo info, TlsPolicy tls, SessionOptions options, bool withoutTls, CancellationToken cancellationToken)
    {
        var builder = info.ToNpgsqlBuilder(options.CommandTimeoutSeconds);
        tls.ApplyTo(builder, withValidationCallback: true);
        if (withoutTls)
        {
            builder.SslMode = SslMode.Disable;
        }

        if (options.ApplicationName is not null)
        {
            builder.ApplicationName = options.ApplicationName;
        }

        if (options.ReadBufferSize is { } read)
        {
            builder.ReadBufferSize = read;
        }

        if (options.WriteBufferSize is { } write)
        {
            builder.WriteBufferSize = write;
        }

        if (!options.LoadTypes)
        {
            // The data source builder's ConfigureTypeLoading says the same, but a connection made from a connection
            // string (one per session here, each with its own TLS callback) has only this way to say it.
#pragma warning disable CS0618
            builder.ServerCompatibilityMode = ServerCompatibilityMode.NoTypeLoading;
#pragma warning restore CS0618
        }

        if (options.AutoPrepare is { } prepared)
        {
            builder.MaxAutoPrepare = prepared;
            builder.AutoPrepareMinUsages = 2;
        }

        var conn = new NpgsqlConnection(builder.ConnectionString);
        if (tls.VerifiesChain && !withoutTls)
        {
            conn.SslClientAuthenticationOptionsCallback = o => o.RemoteCertificateValidationCallback = tls.Validate;
        }

        try
        {
            await conn.OpenAsync(cancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>libpq's target_session_attrs for one host: the session is refused when the server is not of the kind asked for.</summary>
    private static async Task CheckSessionAttributesAsync(NpgsqlConnection conn, PgConnectionInfo info, string role, CancellationToken cancellationToken)
    {
        var wanted = info.Options.GetValueOrDefault("target_session_attrs");
        if (wanted is null or "any" or "prefer-standby")
        {
            return;
        }

        var readOnly = await ScalarAsync<string>(conn, "SHOW transaction_read_only", cancellationToken) == "on";
        var standby = await ScalarAsync<bool>(conn, "SELECT pg_catalog.pg_is_in_recovery()", cancellationToken);
        var (ok, actual) = wanted switch
        {
            "read-write" => (!readOnly, "read-only"),
            "read-only" => (readOnly, "read-write"),
            "primary" => (!standby, "a standby"),
            _ => (standby, "a primary"),
        };
        if (!ok)
        {
            throw new PgRelocateException($"The {role} ({info.Display}) is {actual}, and target_session_attrs={wanted} refuses it: connect to the server of the kind asked for, or change target_session_attrs.");
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

    /// <summary>
    /// Turns off JIT compilation in the session, on any server (the setting exists from PostgreSQL 11): a catalog
    /// query over thousands of objects is planned at a cost that makes the server compile it, which costs more than
    /// the query (the copy's table sizes at 1,000 tables: 33 ms of its 66) and saves nothing. A statement of its own
    /// or one of a batch (<see cref="WithoutJitAsync"/>).
    /// </summary>
    public const string WithoutJit = "SELECT pg_catalog.set_config('jit', 'off', false) WHERE pg_catalog.current_setting('jit', true) IS NOT NULL";

    /// <summary>Runs <see cref="WithoutJit"/>.</summary>
    public static Task WithoutJitAsync(NpgsqlConnection conn, CancellationToken cancellationToken) => ExecuteAsync(conn, WithoutJit, cancellationToken);

    /// <summary>A quoted SQL identifier.</summary>
    public static string Ident(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A schema-qualified name, each part quoted: <c>"schema"."name"</c>. The one place the two are joined.</summary>
    public static string Qualified(string schema, string name) => Ident(schema) + "." + Ident(name);

    /// <summary>A quoted SQL string literal (standard_conforming_strings on).</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Turns a failure to connect into a user-facing error naming the side and the next step.</summary>
    public static PgRelocateException Describe(Exception e, PgConnectionInfo? info, string? role) => Describe(e, info, role, connected: false);

    /// <summary>
    /// Turns a driver failure into one line naming the side, what happened and the next step: while
    /// connecting (<paramref name="connected"/> false) or on a session that was open (a connection cut
    /// mid-query, a timeout, the server shutting down). <paramref name="info"/> may be null when the side
    /// is not known.
    /// </summary>
    public static PgRelocateException Describe(Exception e, PgConnectionInfo? info, string? role, bool connected)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e is PgRelocateException already)
        {
            return already;
        }

        var where = info is null ? "the server" : $"the {role ?? "server"} ({info.Display})";
        var tls = info is null ? null : TlsPolicy.For(info);
        var inner = Find<TlsVerificationException>(e) as Exception
            ?? Find<PostgresException>(e) as Exception
            ?? Find<SocketException>(e) as Exception
            ?? Find<TimeoutException>(e) as Exception
            ?? Find<AuthenticationException>(e) as Exception
            ?? Find<CryptographicException>(e) as Exception
            ?? Find<FileNotFoundException>(e) as Exception
            ?? Find<EndOfStreamException>(e) as Exception
            ?? Find<IOException>(e) as Exception
            ?? e;
        var clientCert = tls?.ClientCert;
        var text = Scrub(info, AllMessages(e));
        var message = inner switch
        {
            TlsVerificationException t => $"Refused {where}: {t.Message}.",
            PostgresException { SqlState: PostgresErrorCodes.InvalidAuthorizationSpecification } p when p.MessageText.Contains("certificate", StringComparison.OrdinalIgnoreCase) => clientCert is null
                ? $"{Cap(where)} requires a client certificate ({p.MessageText}): give one with sslcert=PATH and sslkey=PATH."
                : $"{Cap(where)} refused the client certificate {clientCert}: {p.MessageText}. Give a certificate signed by the CA the server trusts, for the user '{info!.User}'.",
            PostgresException { SqlState: PostgresErrorCodes.InvalidPassword } => $"Password authentication failed for user '{info?.User}' on {where}: check the password{(info?.IgnoredPassFile is { } f ? $" ({PgPassFile.IgnoredBecause(f)})" : "")}.",
            PostgresException { SqlState: PostgresErrorCodes.InvalidAuthorizationSpecification } p => $"{Cap(where)} refused the login: {p.MessageText}. Check the user name and the server's access rules.",
            PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } => $"Database '{info?.Database}' does not exist on {where}: create it or fix the database name in the URL.",
            PostgresException { SqlState: PostgresErrorCodes.TooManyConnections } => $"{Cap(where)} has no connection slots left: close other connections or try again later.",
            PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow } => $"{Cap(where)} is starting up or shutting down: try again in a moment.",
            PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown } p => $"{Cap(where)} ended the session ({p.MessageText}): run the command again once the server is back.",
            PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } p => $"{Cap(where)} cancelled a statement ({p.MessageText}): raise statement_timeout for this role, or run the command again.",
            PostgresException p => $"{Cap(where)} said: {p.MessageText} ({p.SqlState}).{HintOf(p)}",
            _ when !connected && info is not null && text.Contains("No password has been provided", StringComparison.Ordinal) =>
                $"{Cap(where)} asks for a password and none was given: {info.NoPasswordAdvice}.",
            _ when text.Contains("No SSL enabled connection", StringComparison.Ordinal) =>
                $"{Cap(where)} does not accept TLS connections, and sslmode={tls?.Mode} requires TLS: enable TLS on the server, or use sslmode=prefer only if the network to it is trusted.",
            SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } =>
                $"Host '{info?.Host}' of {role ?? "the connection"} could not be resolved: check the host name in the URL.",
            SocketException { SocketErrorCode: SocketError.ConnectionRefused } =>
                $"Nothing accepts connections at {info?.Host}:{info?.Port} ({role}): check the host and port, and that the server is running.",
            SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown } when connected =>
                $"The connection to {where} was reset while working: check the server and the network, then run the command again.",
            TimeoutException when connected => $"Timed out waiting for {where}: check the server's load and the network, then run the command again.",
            TimeoutException => $"Timed out connecting to {where}: check the host, port and firewall.",
            _ when !connected && clientCert is not null && (text.Contains("alert unknown ca", StringComparison.Ordinal) || text.Contains("alert bad certificate", StringComparison.Ordinal)
                || text.Contains("alert certificate", StringComparison.Ordinal)) =>
                $"{Cap(where)} refused the client certificate {clientCert} during the TLS handshake: give a certificate signed by the CA the server trusts.",
            CryptographicException or FileNotFoundException when clientCert is not null =>
                $"Could not read the client certificate {clientCert} or its key {tls!.ClientKey} ({role}): {inner.Message.TrimEnd('.')}. Check the files, and sslpassword for an encrypted key.",
            AuthenticationException => $"The TLS handshake with {where} failed ({Scrub(info, inner.Message).TrimEnd('.')}): check sslmode and the server's TLS settings.",
            SocketException { SocketErrorCode: SocketError.ConnectionReset } or EndOfStreamException or IOException when !connected && clientCert is not null =>
                $"{Cap(where)} refused the client certificate {clientCert}, it seems: it closed the connection during the TLS handshake. Give a certificate signed by the CA the server trusts.",
            SocketException s when !connected => $"Could not reach {where}: {s.Message}.",
            EndOfStreamException or IOException or SocketException when connected =>
                $"The connection to {where} was cut while working ({Scrub(info, inner.Message).TrimEnd('.')}): check the server and the network, then run the command again.",
            EndOfStreamException or IOException => $"{Cap(where)} closed the connection while connecting ({Scrub(info, inner.Message).TrimEnd('.')}): check the server's log and its access rules.",
            _ when connected => $"The session with {where} failed: {Scrub(info, e.Message).TrimEnd('.')}. Check the server's log, then run the command again.",
            _ => $"Could not connect to {where}: {Scrub(info, e.Message).TrimEnd('.')}. Check the URL and the server's log.",
        };
        return new PgRelocateException(message, ExitCode.Failed, e)
        {
            // The server's states by the one rule; of the network's, a connection cut while connecting is most
            // often a refusal (a client certificate the server rejects), which would be met again.
            IsTransient = inner switch
            {
                PostgresException p => Transience.IsTransientState(p.SqlState),
                SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.TimedOut or SocketError.ConnectionReset } or TimeoutException => true,
                IOException or EndOfStreamException => connected,
                _ => false,
            },
        };
    }

    /// <summary>Whether <paramref name="e"/> is a driver failure <see cref="Describe(Exception, PgConnectionInfo?, string?, bool)"/> can put in words.</summary>
    public static bool IsDriverFailure(Exception e) => e is NpgsqlException || Find<NpgsqlException>(e) is not null;

    private static T? Find<T>(Exception e) where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is T t)
            {
                return t;
            }
        }

        return null;
    }

    private static string AllMessages(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            parts.Add(x.Message);
        }

        return string.Join(" | ", parts);
    }

    private static string Scrub(PgConnectionInfo? info, string text) => info is null ? text : info.Scrub(text);

    private static string Cap(string text) => char.ToUpperInvariant(text[0]) + text[1..];

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

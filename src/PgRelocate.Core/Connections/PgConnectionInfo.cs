using System.Globalization;
using System.Text;
using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Connections;

/// <summary>
/// Where a PostgreSQL database is and how to log in to it: the one connection type used everywhere.
/// It accepts what users paste (<c>postgres://</c> and <c>postgresql://</c> URLs, libpq keyword strings),
/// falls back on the <c>PG*</c> environment variables and the password file as libpq does, and knows its
/// secret: <see cref="ToString"/> and every other rendering show the password as <c>***</c>. The password
/// leaves this type only for Npgsql and, through the environment, for child processes.
/// </summary>
public sealed class PgConnectionInfo
{
    private const string Redacted = "***";

    private readonly string? _password;

    private PgConnectionInfo(
        string host,
        int port,
        string database,
        string user,
        string? password,
        string? sslMode,
        string? applicationName,
        IReadOnlyDictionary<string, string> options,
        string? home)
    {
        Host = host;
        Port = port;
        Database = database;
        User = user;
        _password = password;
        SslMode = sslMode;
        ApplicationName = applicationName;
        Options = options;
        Home = home;
    }

    /// <summary>
    /// Parses a URL or a keyword string. Missing parts come from <paramref name="environment"/> (the
    /// <c>PG*</c> variables; the process environment when null), then libpq's defaults; a missing password
    /// is looked up in the password file.
    /// </summary>
    /// <exception cref="UsageException">The text is neither a valid URL nor a keyword string.</exception>
    public static PgConnectionInfo Parse(string text, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var env = environment ?? EnvironmentSnapshot();
        return FromParts(ConnectionStringParser.Parts(text), env);
    }

    /// <summary>A connection taken from the <c>PG*</c> environment variables alone, as <c>psql</c> with no arguments.</summary>
    public static PgConnectionInfo FromEnvironment(IReadOnlyDictionary<string, string?>? environment = null) =>
        FromParts(new Dictionary<string, string>(StringComparer.Ordinal), environment ?? EnvironmentSnapshot());

    /// <summary>
    /// From parts to a connection as libpq would make it: what the text left out comes from the <c>PG*</c>
    /// environment variables, then libpq's defaults; a missing password from the password file.
    /// </summary>
    private static PgConnectionInfo FromParts(Dictionary<string, string> parts, IReadOnlyDictionary<string, string?> env)
    {
        string? Get(string key, string variable) =>
            parts.TryGetValue(key, out var v) && v.Length > 0 ? v : env.GetValueOrDefault(variable) is { Length: > 0 } e ? e : null;

        var host = Get("host", "PGHOST") ?? Get("hostaddr", "PGHOSTADDR") ?? "/var/run/postgresql";
        if (host.Contains(',', StringComparison.Ordinal))
        {
            throw new UsageException($"Several hosts ('{host}') are not supported: give the one host to migrate from or to.");
        }

        var portText = Get("port", "PGPORT") ?? "5432";
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new UsageException($"Port '{portText}' is not a number from 1 to 65535: fix the port in the connection URL.");
        }

        var user = Get("user", "PGUSER") ?? Environment.UserName;
        var database = Get("dbname", "PGDATABASE") ?? user;
        var sslMode = Get("sslmode", "PGSSLMODE");
        if (sslMode is not null)
        {
            ConnectionParameters.Validate("sslmode", sslMode);
        }

        var applicationName = Get("application_name", "PGAPPNAME");
        var password = Get("password", "PGPASSWORD");
        string? ignoredPassFile = null;
        if (password is null)
        {
            var passfile = Get("passfile", "PGPASSFILE") ?? DefaultPassFile(env);
            password = passfile is null ? null : PgPassFile.Lookup(passfile, host, port, database, user);
            ignoredPassFile = passfile is not null && PgPassFile.IsIgnored(passfile) ? passfile : null;
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var parameter in ConnectionParameters.All.Where(p => !ConnectionParameters.Core.Contains(p.Keyword)))
        {
            if ((parameter.Variable is null ? parts.GetValueOrDefault(parameter.Keyword) is { Length: > 0 } v ? v : null : Get(parameter.Keyword, parameter.Variable)) is { } value)
            {
                ConnectionParameters.Validate(parameter.Keyword, value);
                options[parameter.Keyword] = value;
            }
        }

        return new PgConnectionInfo(host, port, database, user, password, sslMode, applicationName, options, env.GetValueOrDefault("HOME")) { IgnoredPassFile = ignoredPassFile };
    }

    private static string? DefaultPassFile(IReadOnlyDictionary<string, string?> env)
    {
        var home = env.GetValueOrDefault("HOME");
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".pgpass");
    }

    private static Dictionary<string, string?> EnvironmentSnapshot()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            result[(string)e.Key] = e.Value as string;
        }

        return result;
    }

    /// <summary>A host name, an IP address, or an absolute directory holding the server's Unix socket.</summary>
    public string Host { get; }

    public int Port { get; }

    public string Database { get; }

    public string User { get; }

    public bool HasPassword => _password is not null;

    /// <summary>libpq's sslmode (disable, allow, prefer, require, verify-ca, verify-full), or null for libpq's default.</summary>
    public string? SslMode { get; }

    public string? ApplicationName { get; }

    /// <summary>
    /// The other parameters of <see cref="ConnectionParameters.All"/> (connect_timeout, sslrootcert, ...), from
    /// the URL or keyword string or, as libpq does, from their environment variables.
    /// </summary>
    public IReadOnlyDictionary<string, string> Options { get; }

    /// <summary>The password file that was not read because its mode lets others in (as libpq, which ignores it too); null otherwise.</summary>
    internal string? IgnoredPassFile { get; private init; }

    /// <summary>What to say where a password was needed and none was given: the ignored password file, else where to put one.</summary>
    internal string NoPasswordAdvice => IgnoredPassFile is { } file
        ? PgPassFile.IgnoredBecause(file)
        : "put it in the URL, in PGPASSWORD or in ~/.pgpass (mode 0600)";

    /// <summary>The home folder libpq's default files (<c>~/.postgresql/root.crt</c>, ...) are looked up in.</summary>
    internal string? Home { get; }

    /// <summary>The value of any parameter of <see cref="ConnectionParameters.All"/>, or null when not set.</summary>
    public string? Get(string keyword) => keyword switch
    {
        "host" => Host,
        "port" => Port.ToString(CultureInfo.InvariantCulture),
        "dbname" => Database,
        "user" => User,
        "password" => _password,
        "sslmode" => SslMode,
        "application_name" => ApplicationName,
        "hostaddr" or "passfile" => null,
        _ => Options.GetValueOrDefault(keyword),
    };

    public bool IsUnixSocket => Host.StartsWith('/');

    /// <summary>The server runs on this machine: reached over a socket, as localhost or at a loopback address.</summary>
    public bool IsLocal =>
        IsUnixSocket
        || string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(Host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    /// <summary>The same server and credentials, another database (for example <c>postgres</c> to create one).</summary>
    public PgConnectionInfo WithDatabase(string database) =>
        new(Host, Port, database, User, _password, SslMode, ApplicationName, Options, Home) { IgnoredPassFile = IgnoredPassFile };

    /// <summary>The same server, other credentials.</summary>
    public PgConnectionInfo WithCredentials(string user, string? password) =>
        new(Host, Port, Database, user, password, SslMode, ApplicationName, Options, Home) { IgnoredPassFile = IgnoredPassFile };

    public PgConnectionInfo WithApplicationName(string applicationName) =>
        new(Host, Port, Database, User, _password, SslMode, applicationName, Options, Home) { IgnoredPassFile = IgnoredPassFile };

    /// <summary>The connection as a URL with the password shown as <c>***</c>: safe for any output.</summary>
    public override string ToString() => ToUrl(showPassword: false);

    /// <summary>
    /// The connection as a <c>postgres://</c> URL. Only pass <paramref name="showPassword"/> when the user
    /// asked to see the secret (a new <c>DATABASE_URL</c> with <c>--show-secrets</c>).
    /// </summary>
    public string ToUrl(bool showPassword)
    {
        var sb = new StringBuilder("postgres://");
        sb.Append(Uri.EscapeDataString(User));
        if (_password is not null)
        {
            sb.Append(':').Append(showPassword ? Uri.EscapeDataString(_password) : Redacted);
        }

        sb.Append('@');
        var query = new List<string>();
        if (IsUnixSocket)
        {
            query.Add("host=" + Uri.EscapeDataString(Host));
        }
        else
        {
            sb.Append(Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host);
        }

        sb.Append(':').Append(Port.ToString(CultureInfo.InvariantCulture));
        sb.Append('/').Append(Uri.EscapeDataString(Database));
        if (SslMode is not null)
        {
            query.Add("sslmode=" + SslMode);
        }

        if (ApplicationName is not null)
        {
            query.Add("application_name=" + Uri.EscapeDataString(ApplicationName));
        }

        query.AddRange(Options.Select(o => o.Key + "=" + (ConnectionParameters.Find(o.Key) is { IsSecret: true } && !showPassword ? Redacted : Uri.EscapeDataString(o.Value))));
        if (query.Count > 0)
        {
            sb.Append('?').Append(string.Join('&', query));
        }

        return sb.ToString();
    }

    /// <summary>A short name for messages and tables: <c>user@host:port/db</c>.</summary>
    public string Display => $"{User}@{(IsUnixSocket ? "[socket]" : Host)}:{Port}/{Database}";

    /// <summary>
    /// The Npgsql connection string, password included: hand it to Npgsql only, never print it. Made from
    /// <see cref="ConnectionParameters.All"/>, as the child processes' environment is. On its own it verifies
    /// the server as strictly as Npgsql can express (require with a CA file becomes verify-ca, as in libpq);
    /// <see cref="Db.OpenAsync(PgConnectionInfo, string, CancellationToken)"/> adds the rest of libpq's rules.
    /// </summary>
    public string ToNpgsqlConnectionString(int? commandTimeoutSeconds = null) =>
        ToNpgsqlBuilder(commandTimeoutSeconds).ConnectionString;

    internal NpgsqlConnectionStringBuilder ToNpgsqlBuilder(int? commandTimeoutSeconds = null)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            ApplicationName = "pgrelocate",
            // Each command opens few connections, briefly; pooling across them only keeps servers busy.
            Pooling = false,
            // libpq waits forever without connect_timeout; a migration tool should say something sooner.
            Timeout = 15,
            CommandTimeout = commandTimeoutSeconds ?? 0,
            IncludeErrorDetail = true,
        };
        foreach (var parameter in ConnectionParameters.All)
        {
            if (parameter.ToNpgsql is not null && Get(parameter.Keyword) is { } value)
            {
                parameter.ToNpgsql(builder, value);
            }
        }

        if (_password is null)
        {
            // The password file was read when parsing, by libpq's rules: Npgsql would read it again by its own,
            // which take a file others can read (libpq, and so pg_dump and pg_restore, ignore it).
            builder.Passfile = OperatingSystem.IsWindows() ? "NUL" : "/dev/null";
        }

        TlsPolicy.For(this).ApplyTo(builder, withValidationCallback: false);
        return builder;
    }

    /// <summary>
    /// The environment variables that point a libpq program (pg_dump, pg_restore, psql) at this database,
    /// password included, made from <see cref="ConnectionParameters.All"/>. Child processes get the
    /// connection this way and never on their command line, where any user of the machine could read it;
    /// <see cref="Tools.ChildProcess.IsolateEnvironment"/> keeps the other <c>PG*</c> variables of this process out of it.
    /// </summary>
    public IReadOnlyDictionary<string, string> ToLibpqEnvironment()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["PGAPPNAME"] = "pgrelocate" };
        foreach (var parameter in ConnectionParameters.All)
        {
            if (parameter.Variable is not null && Get(parameter.Keyword) is { } value)
            {
                env[parameter.Variable] = value;
            }
        }

        if (Options.GetValueOrDefault("sslpassword") is { } keyPassword)
        {
            env["PGSERVICEFILE"] = LibpqServiceFile.For(keyPassword);
            env["PGSERVICE"] = LibpqServiceFile.Service;
        }

        return env;
    }

    /// <summary>
    /// This connection as a line of libpq's password file (<c>host:port:database:user:password</c>). The only
    /// rendering besides Npgsql's and the environment's that holds the password: write it to a file only the
    /// user can read.
    /// </summary>
    public string ToPassFileLine()
    {
        static string E(string v) => v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(":", "\\:", StringComparison.Ordinal);
        var host = IsUnixSocket ? "localhost" : Host;
        return $"{E(host)}:{Port}:{E(Database)}:{E(User)}:{E(_password ?? "")}";
    }

    /// <summary>Replaces every occurrence of the secrets (password, sslpassword) in <paramref name="text"/> (for child process output).</summary>
    public string Scrub(string text)
    {
        if (_password is { Length: > 0 } p)
        {
            text = text.Replace(p, Redacted, StringComparison.Ordinal);
        }

        return Options.GetValueOrDefault("sslpassword") is { Length: > 0 } k ? text.Replace(k, Redacted, StringComparison.Ordinal) : text;
    }
}

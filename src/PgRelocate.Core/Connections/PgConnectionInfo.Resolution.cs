using System.Globalization;
using PgRelocate.Errors;

namespace PgRelocate.Connections;

/// <summary>
/// From parts to a connection as libpq would make it: what the text left out comes from the <c>PG*</c>
/// environment variables, then libpq's defaults; a missing password from the password file.
/// </summary>
public sealed partial class PgConnectionInfo
{
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
}

using System.Globalization;
using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Connections;

/// <summary>The connection parameters this tool understands: the table both renderings are made from.</summary>
internal static class ConnectionParameters
{
    private const string ByTls = "applied by TlsPolicy, which follows libpq's rules where Npgsql's differ";

    /// <summary>Every parameter, in libpq's order. A keyword not here is refused when parsing.</summary>
    public static IReadOnlyList<ConnectionParameter> All { get; } =
    [
        new("host", "PGHOST", (b, v) => b.Host = v),
        new("hostaddr", "PGHOSTADDR", null, "read as the host when no host is given"),
        new("port", "PGPORT", (b, v) => b.Port = int.Parse(v, CultureInfo.InvariantCulture)),
        new("dbname", "PGDATABASE", (b, v) => b.Database = v),
        new("user", "PGUSER", (b, v) => b.Username = v),
        new("password", "PGPASSWORD", (b, v) => b.Password = v, IsSecret: true),
        new("passfile", "PGPASSFILE", null, "read when parsing: the password found there is handed on as password"),
        new("application_name", "PGAPPNAME", (b, v) => b.ApplicationName = v),
        new("options", "PGOPTIONS", (b, v) => b.Options = v),
        new("connect_timeout", "PGCONNECT_TIMEOUT", (b, v) => b.Timeout = ConnectTimeout(v)),
        new("sslmode", "PGSSLMODE", null, ByTls),
        new("sslnegotiation", "PGSSLNEGOTIATION", (b, v) => b.SslNegotiation = v == "direct" ? SslNegotiation.Direct : SslNegotiation.Postgres),
        new("sslrootcert", "PGSSLROOTCERT", null, ByTls),
        new("sslcert", "PGSSLCERT", null, ByTls),
        new("sslkey", "PGSSLKEY", null, ByTls),
        // libpq reads sslpassword from no variable: child processes get it through a service file (LibpqServiceFile).
        new("sslpassword", null, (b, v) => b.SslPassword = v, IsSecret: true),
        new("sslcrl", "PGSSLCRL", null, ByTls),
        new("channel_binding", "PGCHANNELBINDING", (b, v) => b.ChannelBinding = v switch
        {
            "disable" => ChannelBinding.Disable,
            "require" => ChannelBinding.Require,
            _ => ChannelBinding.Prefer,
        }),
        new("target_session_attrs", "PGTARGETSESSIONATTRS", null, "checked by Db.OpenAsync after connecting (Npgsql checks it only across several hosts)"),
    ];

    /// <summary>The parameters PgConnectionInfo holds as properties; the others are in its Options.</summary>
    internal static readonly HashSet<string> Core = new(StringComparer.Ordinal)
    {
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "sslmode", "application_name",
    };

    private static readonly Dictionary<string, ConnectionParameter> ByKeyword = All.ToDictionary(p => p.Keyword, StringComparer.Ordinal);

    public static ConnectionParameter? Find(string keyword) => ByKeyword.GetValueOrDefault(keyword);

    /// <summary>Refuses values libpq would refuse, with the accepted ones in the message.</summary>
    internal static void Validate(string keyword, string value)
    {
        string[]? allowed = keyword switch
        {
            "sslmode" => ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
            "sslnegotiation" => ["postgres", "direct"],
            "channel_binding" => ["disable", "prefer", "require"],
            "target_session_attrs" => ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"],
            _ => null,
        };
        if (allowed is not null && !allowed.Contains(value, StringComparer.Ordinal))
        {
            throw new UsageException($"{keyword} '{value}' is not one of {string.Join(", ", allowed)}: fix it in the connection URL.");
        }

        if (keyword == "connect_timeout" && !int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            throw new UsageException($"connect_timeout '{value}' is not a number of seconds: fix it in the connection URL.");
        }
    }

    /// <summary>libpq's reading of connect_timeout: 0 or less waits forever, and less than 2 seconds is 2.</summary>
    internal static int ConnectTimeout(string value)
    {
        var seconds = int.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return seconds <= 0 ? 0 : Math.Max(seconds, 2);
    }
}

using System.Text;
using PgRelocate.Errors;

namespace PgRelocate.Connections;

/// <summary>
/// Reads what users paste: a <c>postgres://</c> or <c>postgresql://</c> URL, or a libpq keyword string
/// (<c>host=... dbname=...</c>), into its parts by libpq's keywords; typographic quotes around it are dropped.
/// What the parts leave out, <see cref="PgConnectionInfo"/> resolves as libpq does.
/// </summary>
internal static partial class ConnectionStringParser
{
    /// <summary>The parts of a URL or a keyword string, by libpq's keywords (none for an empty text).</summary>
    /// <exception cref="UsageException">The text is neither a valid URL nor a keyword string.</exception>
    public static Dictionary<string, string> Parts(string text)
    {
        var trimmed = StripQuotes(text.Trim());
        if (trimmed.Length == 0)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        return LooksLikeUrl(trimmed) ? ParseUrl(trimmed) : ParseKeywords(trimmed);
    }

    private static bool LooksLikeUrl(string text) =>
        text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
        || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || (text.Contains("://", StringComparison.Ordinal) && !text.Contains('=', StringComparison.Ordinal));

    private static Dictionary<string, string> ParseUrl(string text)
    {
        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        var scheme = text[..schemeEnd].ToLowerInvariant();
        if (scheme is not ("postgres" or "postgresql"))
        {
            throw new UsageException($"'{scheme}://' is not a PostgreSQL URL: use postgres://USER:PASSWORD@HOST:PORT/DBNAME.");
        }

        var parts = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = text[(schemeEnd + 3)..];
        var queryStart = rest.IndexOf('?', StringComparison.Ordinal);
        var query = queryStart >= 0 ? rest[(queryStart + 1)..] : "";
        rest = queryStart >= 0 ? rest[..queryStart] : rest;

        // The password may contain '@' or '/' when users forget to percent-encode it: the last '@' ends the
        // credentials, and the path starts at the first '/' after it.
        var at = rest.LastIndexOf('@');
        var credentials = at >= 0 ? rest[..at] : null;
        var hostAndPath = at >= 0 ? rest[(at + 1)..] : rest;
        var slash = hostAndPath.IndexOf('/', StringComparison.Ordinal);
        var hostPort = slash >= 0 ? hostAndPath[..slash] : hostAndPath;
        var path = slash >= 0 ? hostAndPath[(slash + 1)..] : "";

        if (credentials is not null)
        {
            var colon = credentials.IndexOf(':', StringComparison.Ordinal);
            var user = Decode(colon >= 0 ? credentials[..colon] : credentials);
            if (user.Length > 0)
            {
                parts["user"] = user;
            }

            if (colon >= 0)
            {
                parts["password"] = Decode(credentials[(colon + 1)..]);
            }
        }

        if (hostPort.Length > 0)
        {
            string host;
            string? port = null;
            if (hostPort.StartsWith('['))
            {
                var close = hostPort.IndexOf(']', StringComparison.Ordinal);
                if (close < 0)
                {
                    throw new UsageException("The URL's IPv6 host has no closing ']': write it as postgres://USER@[::1]:5432/DB.");
                }

                host = hostPort[1..close];
                var after = hostPort[(close + 1)..];
                if (after.StartsWith(':'))
                {
                    port = after[1..];
                }
            }
            else
            {
                var colon = hostPort.LastIndexOf(':');
                host = colon >= 0 ? hostPort[..colon] : hostPort;
                port = colon >= 0 ? hostPort[(colon + 1)..] : null;
            }

            host = Decode(host);
            if (host.Length > 0)
            {
                if (host.Any(c => char.IsWhiteSpace(c) || c is '<' or '>' or '"' or '\''))
                {
                    throw new UsageException($"'{host}' is not a host name: check the connection URL.");
                }

                parts["host"] = host;
            }

            if (!string.IsNullOrEmpty(port))
            {
                parts["port"] = port;
            }
        }

        if (path.Length > 0)
        {
            parts["dbname"] = Decode(path);
        }

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new UsageException($"The URL parameter '{pair}' has no value: write it as NAME=VALUE.");
            }

            var key = Decode(pair[..eq]);
            if (ConnectionParameters.Find(key) is null)
            {
                throw new UsageException($"The URL parameter '{key}' is not a connection parameter this tool understands.");
            }

            parts[key] = Decode(pair[(eq + 1)..]);
        }

        return parts;
    }

    private static string Decode(string text)
    {
        // Uri.UnescapeDataString leaves a malformed escape ("%zz", a trailing "%") as it is; libpq refuses it.
        if (MalformedEscape().IsMatch(text))
        {
            throw new UsageException("The connection URL has a malformed %-escape (a % not followed by two hex digits): percent-encode special characters, a % as %25.");
        }

        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(text);
        }
        catch (UriFormatException e)
        {
            throw new UsageException("The connection URL has a malformed %-escape: percent-encode special characters in the password.", e);
        }

        // As libpq ("forbidden value %00 in percent-encoded value"): no connection parameter can hold a NUL byte.
        return decoded.Contains('\0', StringComparison.Ordinal)
            ? throw new UsageException("The connection URL has %00, a NUL byte, which no connection parameter can hold: remove it from the URL.")
            : decoded;
    }

    private static Dictionary<string, string> ParseKeywords(string text)
    {
        var parts = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i >= text.Length)
            {
                break;
            }

            var keyStart = i;
            while (i < text.Length && text[i] != '=' && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var key = text[keyStart..i];
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i >= text.Length || text[i] != '=')
            {
                throw new UsageException("The connection is neither a postgres://USER:PASSWORD@HOST:PORT/DBNAME URL nor a keyword string (host=... dbname=...).");
            }

            i++;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var value = new StringBuilder();
            if (i < text.Length && text[i] == '\'')
            {
                i++;
                var closed = false;
                while (i < text.Length)
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        value.Append(text[i + 1]);
                        i += 2;
                    }
                    else if (text[i] == '\'')
                    {
                        i++;
                        closed = true;
                        break;
                    }
                    else
                    {
                        value.Append(text[i++]);
                    }
                }

                if (!closed)
                {
                    throw new UsageException($"The value of '{key}' has an unterminated quote in the connection string.");
                }
            }
            else
            {
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    value.Append(text[i++]);
                }
            }

            if (ConnectionParameters.Find(key) is null)
            {
                throw new UsageException($"'{key}' is not a connection keyword this tool understands (host, port, dbname, user, password, sslmode, ...).");
            }

            parts[key] = value.ToString();
        }

        return parts;
    }

    // Users paste URLs copied from web pages and chat, where quotes turn typographic.
    private static string StripQuotes(string text)
    {
        if (text.Length >= 2)
        {
            var first = text[0];
            var last = text[^1];
            if ((first is '“' or '”' or '‘' or '’' or '"' or '\'') && (last is '“' or '”' or '‘' or '’' or '"' or '\''))
            {
                return text[1..^1].Trim();
            }
        }

        return text;
    }

    [System.Text.RegularExpressions.GeneratedRegex("%(?![0-9A-Fa-f]{2})")]
    private static partial System.Text.RegularExpressions.Regex MalformedEscape();
}

using System.Globalization;
using System.Text;

namespace PgRelocate.Connections;

/// <summary>Reads libpq's password file (<c>~/.pgpass</c> or <c>PGPASSFILE</c>): <c>host:port:database:user:password</c> lines.</summary>
internal static class PgPassFile
{
    public static string? Lookup(string path, string host, int port, string database, string user)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        // libpq ignores a password file others can read; so do we, for the same reason.
        if (!OperatingSystem.IsWindows()
            && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            return null;
        }

        // For a socket directory libpq matches the entry "localhost".
        var hostKey = host.StartsWith('/') ? "localhost" : host;
        var portText = port.ToString(CultureInfo.InvariantCulture);
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var fields = Split(line);
            if (fields.Count < 5)
            {
                continue;
            }

            if (Matches(fields[0], hostKey) && Matches(fields[1], portText) && Matches(fields[2], database) && Matches(fields[3], user))
            {
                return fields[4];
            }
        }

        return null;
    }

    private static bool Matches(string pattern, string value) => pattern == "*" || pattern == value;

    private static List<string> Split(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '\\' && i + 1 < line.Length)
            {
                current.Append(line[++i]);
            }
            else if (line[i] == ':' && fields.Count < 4)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(line[i]);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }
}

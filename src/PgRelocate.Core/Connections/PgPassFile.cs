using System.Globalization;
using System.Text;

namespace PgRelocate.Connections;

/// <summary>Reads libpq's password file (<c>~/.pgpass</c> or <c>PGPASSFILE</c>): <c>host:port:database:user:password</c> lines.</summary>
internal static class PgPassFile
{
    /// <summary>The group's and others' bits: libpq ignores a password file with any of them (S_IRWXG | S_IRWXO).</summary>
    private const UnixFileMode GroupOrWorld =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>True when <paramref name="path"/> is there but libpq would ignore it: its mode lets the group or others in.</summary>
    public static bool IsIgnored(string path) =>
        !OperatingSystem.IsWindows() && File.Exists(path) && (File.GetUnixFileMode(path) & GroupOrWorld) != 0;

    /// <summary>Why a password file was not read, for a message where a password was needed: the file and what to do.</summary>
    public static string IgnoredBecause(string path) => $"{path} is ignored: its mode must be 0600 (chmod 0600 {path}), as libpq requires";

    public static string? Lookup(string path, string host, int port, string database, string user)
    {
        // libpq ignores a password file others can read; so do we, for the same reason, and so do the sessions
        // Npgsql opens for us (PgConnectionInfo hands it no password file of its own).
        if (!File.Exists(path) || IsIgnored(path))
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

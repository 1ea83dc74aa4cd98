using System.Text;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Poolers;

/// <summary>
/// One <c>[databases]</c> entry of PgBouncer's configuration file: its connection string's keys (host, port,
/// dbname, user, password and whatever else it sets, pool_size, pool_mode, ...) and its line.
/// </summary>
internal sealed record PgBouncerEntry(string Name, int Line, IReadOnlyList<KeyValuePair<string, string>> Keys)
{
    public string? Get(string key) => Keys.FirstOrDefault(k => string.Equals(k.Key, key, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>The server the entry points at: its host (PgBouncer's default: the Unix socket), port (5432) and database (the entry's name).</summary>
    public (string Host, int Port, string Database) Server =>
        (Get("host") ?? "", int.TryParse(Get("port"), out var p) ? p : 5432, Get("dbname") ?? Name);

    /// <summary>This entry pointing at <paramref name="target"/>: its host, port, database, user and password; every other key kept.</summary>
    public string PointedAt(PgConnectionInfo target)
    {
        ArgumentNullException.ThrowIfNull(target);
        string[] replaced = ["host", "port", "dbname", "user", "password"];
        var keys = new List<KeyValuePair<string, string>>
        {
            new("host", target.Host),
            new("port", target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("dbname", target.Database),
            new("user", target.User),
            new("password", target.Get("password") ?? ""),
        };
        keys.AddRange(Keys.Where(k => !replaced.Contains(k.Key, StringComparer.OrdinalIgnoreCase)));
        return $"{Name} = {string.Join(' ', keys.Select(k => k.Key + "=" + QuoteValue(k.Value)))}";
    }

    /// <summary>A value as PgBouncer reads it: bare unless it holds a space or a quote, else single-quoted with each quote doubled.</summary>
    private static string QuoteValue(string value) =>
        value.Length > 0 && value.All(c => !char.IsWhiteSpace(c) && c != '\'')
            ? value
            : "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
}

/// <summary>PgBouncer's configuration file: finding an entry, and rewriting it in place (the previous file kept beside it).</summary>
internal static class PgBouncerIni
{
    /// <summary>The entry <paramref name="name"/> of the file's <c>[databases]</c> section; null when it has none.</summary>
    public static PgBouncerEntry? Find(string[] lines, string name)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var inDatabases = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.StartsWith('['))
            {
                inDatabases = string.Equals(line.Trim('[', ']', ' '), "databases", StringComparison.OrdinalIgnoreCase);
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (!inDatabases || line.Length == 0 || line[0] is ';' or '#' || eq <= 0)
            {
                continue;
            }

            var key = line[..eq].Trim().Trim('"');
            if (string.Equals(key, name, StringComparison.Ordinal))
            {
                return new PgBouncerEntry(name, i, ParseConnectionString(line[(eq + 1)..]));
            }
        }

        return null;
    }

    /// <summary>
    /// Points the entry at <paramref name="target"/>: the file as it was is copied beside it
    /// (<paramref name="keptAs"/>), then rewritten in place, so its owner and mode stay (PgBouncer's own account
    /// must still read it at RELOAD). The file carries the target's password, as it carried the source's.
    /// </summary>
    public static void Repoint(string file, string name, PgConnectionInfo target, string keptAs)
    {
        ArgumentNullException.ThrowIfNull(target);
        Rewrite(file, name, entry => entry.PointedAt(target), keptAs);
    }

    /// <summary>
    /// Puts the entry back as the file <paramref name="before"/> (the one <see cref="Repoint"/> kept) has it: the
    /// application's own server, user and password; every other line stays as the file has it now. The file as it
    /// is now is kept beside it (<paramref name="keptAs"/>).
    /// </summary>
    public static void PutBack(string file, string name, string before, string keptAs)
    {
        var line = File.Exists(before) && Find(File.ReadAllLines(before), name) is { } was ? File.ReadAllLines(before)[was.Line] : null;
        Rewrite(file, name, _ => line ?? throw new PgRelocateException($"{before}, the file as it was before the switch, is gone or no longer has the entry '{name}': nothing was switched back."), keptAs);
    }

    /// <summary>
    /// Rewrites the entry's line in place, the file as it was copied to <paramref name="keptAs"/> first; a run
    /// again once the line is rewritten (after a kill) keeps the copy the first run made.
    /// </summary>
    private static void Rewrite(string file, string name, Func<PgBouncerEntry, string> line, string keptAs)
    {
        var lines = File.ReadAllLines(file);
        var entry = Find(lines, name) ?? throw new PgRelocateException($"{file} no longer has the entry '{name}' in its [databases] section: nothing was switched.");
        var rewritten = line(entry);
        if (!(File.Exists(keptAs) && lines[entry.Line].Trim() == rewritten.Trim()))
        {
            File.Copy(file, keptAs, overwrite: true);
            File.SetUnixFileMode(keptAs, File.GetUnixFileMode(file));
        }

        lines[entry.Line] = rewritten;
        WriteInPlace(file, lines);
    }

    /// <summary>Puts back the file kept by <see cref="Repoint"/>, in place.</summary>
    public static void Restore(string file, string keptAs) => WriteInPlace(file, File.ReadAllLines(keptAs));

    private static void WriteInPlace(string file, string[] lines)
    {
        using var stream = new FileStream(file, FileMode.Truncate, FileAccess.Write);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false));
        foreach (var line in lines)
        {
            writer.Write(line);
            writer.Write('\n');
        }
    }

    /// <summary>A connection string as PgBouncer reads one: key=value pairs, values bare up to a space or single-quoted (a quote doubled).</summary>
    internal static IReadOnlyList<KeyValuePair<string, string>> ParseConnectionString(string text)
    {
        var keys = new List<KeyValuePair<string, string>>();
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var eq = text.IndexOf('=', i);
            if (i >= text.Length || eq < 0)
            {
                break;
            }

            var key = text[i..eq].Trim();
            i = eq + 1;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var value = new StringBuilder();
            if (i < text.Length && text[i] == '\'')
            {
                // Quoted: up to the next single quote; two of them stand for one.
                for (i++; i < text.Length; i++)
                {
                    if (text[i] == '\'' && !(i + 1 < text.Length && text[i + 1] == '\''))
                    {
                        break;
                    }

                    value.Append(text[i]);
                    i += text[i] == '\'' ? 1 : 0;
                }

                i++;
            }
            else
            {
                for (; i < text.Length && !char.IsWhiteSpace(text[i]); i++)
                {
                    value.Append(text[i]);
                }
            }

            keys.Add(new(key, value.ToString()));
        }

        return keys;
    }
}

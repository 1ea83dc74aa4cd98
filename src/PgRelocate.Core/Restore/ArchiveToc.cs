using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PgRelocate.Restore;

/// <summary>
/// One line of <c>pg_restore --list</c>: "3514; 0 16573 TABLE DATA public events owner". Only the kinds a
/// parallel restore schedules itself are told apart (<see cref="Kind"/>); for those, <see cref="Schema"/>
/// and <see cref="Tag"/> name the object.
/// </summary>
internal sealed record TocEntry(int Id, string Line, TocKind Kind, string Schema, string Tag)
{
    /// <summary>"schema.name" unquoted, as pg_restore's verbose lines name a table.</summary>
    public string QualifiedTag => Schema + "." + Tag;
}

internal enum TocKind
{
    Other,
    TableData,
    Index,
    Constraint,
}

/// <summary>An entry of pg_restore's SQL script: its header ("-- Name: x; Type: INDEX; Schema: public; ...") and statement.</summary>
internal sealed record ScriptEntry(string Name, string Type, string Schema, string Sql)
{
    /// <summary>The entry's id ("-- TOC entry 3364"), written when pg_restore runs with --verbose.</summary>
    public int? Id { get; init; }
}

internal static partial class ArchiveToc
{
    /// <summary>The entries of a <c>pg_restore --list</c> output, comments left out.</summary>
    public static IReadOnlyList<TocEntry> Parse(IEnumerable<string> lines)
    {
        var entries = new List<TocEntry>();
        foreach (var line in lines)
        {
            var m = EntryLine().Match(line);
            if (!m.Success)
            {
                continue;
            }

            var id = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            var rest = m.Groups[2].Value;
            var (kind, prefix) = rest switch
            {
                _ when rest.StartsWith("TABLE DATA ", StringComparison.Ordinal) => (TocKind.TableData, "TABLE DATA "),
                _ when rest.StartsWith("INDEX ATTACH ", StringComparison.Ordinal) => (TocKind.Other, ""),
                _ when rest.StartsWith("INDEX ", StringComparison.Ordinal) => (TocKind.Index, "INDEX "),
                _ when rest.StartsWith("CONSTRAINT ", StringComparison.Ordinal) => (TocKind.Constraint, "CONSTRAINT "),
                _ => (TocKind.Other, ""),
            };
            if (kind == TocKind.Other)
            {
                entries.Add(new TocEntry(id, line, kind, "", ""));
                continue;
            }

            // "schema tag owner": the owner is the last word, the schema the first; the tag may hold spaces.
            var words = rest[prefix.Length..];
            var firstSpace = words.IndexOf(' ', StringComparison.Ordinal);
            var lastSpace = words.LastIndexOf(' ');
            if (firstSpace <= 0 || lastSpace <= firstSpace)
            {
                entries.Add(new TocEntry(id, line, TocKind.Other, "", ""));
                continue;
            }

            entries.Add(new TocEntry(id, line, kind, words[..firstSpace], words[(firstSpace + 1)..lastSpace]));
        }

        return entries;
    }

    /// <summary>
    /// Splits pg_restore's script into its entries. Each entry starts with a header of comment lines between
    /// two "--" lines, one of them "-- Name: ...; Type: ..."; with --verbose it also says "-- TOC entry N".
    /// The preamble's settings are left out.
    /// </summary>
    public static IReadOnlyList<ScriptEntry> SplitScript(string script)
    {
        var lines = script.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var result = new List<ScriptEntry>();
        StringBuilder? current = null;
        Match? header = null;
        int? id = null;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i] == "--" && HeaderEnd(lines, i) is var end and > 0)
            {
                var block = lines[(i + 1)..end];
                if (block.FirstOrDefault(l => l.StartsWith("-- Name: ", StringComparison.Ordinal)) is { } name)
                {
                    Flush();
                    header = HeaderLine().Match(name);
                    id = block.Select(l => TocEntryLine().Match(l)).FirstOrDefault(m => m.Success) is { } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
                    current = new StringBuilder();
                    i = end;
                    continue;
                }

                if (block.Any(l => l.StartsWith("-- PostgreSQL database dump complete", StringComparison.Ordinal)))
                {
                    break;
                }
            }

            if (current is not null && !lines[i].StartsWith('\\'))
            {
                current.Append(lines[i]).Append('\n');
            }
        }

        Flush();
        return result;

        void Flush()
        {
            if (current is not null)
            {
                var ok = header is { Success: true };
                result.Add(new ScriptEntry(ok ? header!.Groups[1].Value : "", ok ? header!.Groups[2].Value : "", ok ? header!.Groups[3].Value : "", current.ToString().Trim()) { Id = id });
            }
        }
    }

    /// <summary>The index of the "--" line that closes a header opened at <paramref name="start"/>, or -1.</summary>
    private static int HeaderEnd(string[] lines, int start)
    {
        for (var i = start + 1; i < lines.Length && i <= start + 8; i++)
        {
            if (lines[i] == "--")
            {
                return i > start + 1 ? i : -1;
            }

            if (!lines[i].StartsWith("-- ", StringComparison.Ordinal))
            {
                return -1;
            }
        }

        return -1;
    }

    /// <summary>
    /// The table an index or constraint statement of pg_dump's is on, "schema.name" unquoted: from
    /// "CREATE [UNIQUE] INDEX i ON [ONLY] s.t USING ..." or "ALTER TABLE [ONLY] s.t ...". Null otherwise.
    /// </summary>
    public static string? TableOf(string sql)
    {
        int at;
        var on = IndexOn().Match(sql);
        if (on.Success)
        {
            at = on.Index + on.Length;
        }
        else if (sql.StartsWith("ALTER TABLE ONLY ", StringComparison.Ordinal))
        {
            at = "ALTER TABLE ONLY ".Length;
        }
        else if (sql.StartsWith("ALTER TABLE ", StringComparison.Ordinal))
        {
            at = "ALTER TABLE ".Length;
        }
        else
        {
            return null;
        }

        var schema = Identifier(sql, ref at);
        if (schema is null || at >= sql.Length || sql[at] != '.')
        {
            return null;
        }

        at++;
        var table = Identifier(sql, ref at);
        return table is null ? null : schema + "." + table;
    }

    /// <summary>An identifier as pg_dump quotes it: bare, or in double quotes with "" for a quote.</summary>
    private static string? Identifier(string sql, ref int at)
    {
        if (at >= sql.Length)
        {
            return null;
        }

        if (sql[at] != '"')
        {
            var start = at;
            while (at < sql.Length && sql[at] != '.' && !char.IsWhiteSpace(sql[at]) && sql[at] != '(')
            {
                at++;
            }

            return at > start ? sql[start..at] : null;
        }

        var name = new StringBuilder();
        at++;
        while (at < sql.Length)
        {
            if (sql[at] == '"')
            {
                if (at + 1 < sql.Length && sql[at + 1] == '"')
                {
                    name.Append('"');
                    at += 2;
                    continue;
                }

                at++;
                return name.ToString();
            }

            name.Append(sql[at++]);
        }

        return null;
    }

    [GeneratedRegex(@"^(\d+); \d+ \d+ (.*)$")]
    private static partial Regex EntryLine();

    [GeneratedRegex(@"^-- TOC entry (\d+) ")]
    private static partial Regex TocEntryLine();

    [GeneratedRegex(@"^-- Name: (.*?); Type: (.*?); Schema: (.*?); Owner:")]
    private static partial Regex HeaderLine();

    [GeneratedRegex(@"^CREATE (?:UNIQUE )?INDEX (?:""(?:[^""]|"""")*""|\S+) ON (?:ONLY )?")]
    private static partial Regex IndexOn();
}

using System.Text;
using System.Text.RegularExpressions;
using PgRelocate.Archives;

namespace PgRelocate.Restore;

/// <summary>What a restore needs to know of an archive's entries beyond what each entry says itself.</summary>
internal static partial class ArchiveToc
{
    public const string TableData = "TABLE DATA";

    public const string Index = "INDEX";

    public const string Constraint = "CONSTRAINT";

    public const string ForeignKey = "FK CONSTRAINT";

    /// <summary>
    /// The table ("schema.name" unquoted) an INDEX or CONSTRAINT entry is on: the TABLE entry it depends on,
    /// else the table its statement names. Null when neither says.
    /// </summary>
    public static string? TableOf(ArchiveEntry entry, Func<int, ArchiveEntry?> find)
    {
        foreach (var id in entry.Dependencies)
        {
            if (find(id) is { Kind: "TABLE" } table)
            {
                return table.QualifiedTag;
            }
        }

        return TableOf(entry.Definition);
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

    [GeneratedRegex(@"^CREATE (?:UNIQUE )?INDEX (?:""(?:[^""]|"""")*""|\S+) ON (?:ONLY )?")]
    private static partial Regex IndexOn();
}

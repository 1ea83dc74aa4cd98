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

        return Qualified(sql, ref at) is { } table ? table.Schema + "." + table.Name : null;
    }

    /// <summary>A name pg_dump qualified (<c>public."Order"</c>), whole, as its schema and name unquoted; (<paramref name="qualified"/>, "") when it is not one.</summary>
    public static (string Schema, string Name) Unqualify(string qualified)
    {
        var at = 0;
        return Qualified(qualified, ref at) is { } name && at == qualified.Length ? name : (qualified, "");
    }

    /// <summary>The schema-qualified name at <paramref name="at"/>, unquoted, <paramref name="at"/> moved past it; null when there is none.</summary>
    private static (string Schema, string Name)? Qualified(string sql, ref int at)
    {
        var schema = Identifier(sql, ref at);
        if (schema is null || at >= sql.Length || sql[at] != '.')
        {
            return null;
        }

        at++;
        return Identifier(sql, ref at) is { } name ? (schema, name) : null;
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

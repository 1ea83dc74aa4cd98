using System.Text;

namespace PgRelocate.Connections;

/// <summary>
/// Just enough SQL lexing to split a file into statements and to see a top-level ORDER BY: it skips
/// string literals, quoted identifiers, dollar quotes and comments, and tracks parentheses.
/// </summary>
public static class SqlText
{
    /// <summary>The statements of a script, split on semicolons outside quotes and comments, without empty ones.</summary>
    public static IReadOnlyList<string> Split(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var statements = new List<string>();
        var start = 0;
        foreach (var (index, c, depth) in Scan(script))
        {
            _ = depth;
            if (c == ';')
            {
                Add(script[start..index]);
                start = index + 1;
            }
        }

        Add(script[start..]);
        return statements;

        void Add(string statement)
        {
            if (!IsBlank(statement))
            {
                statements.Add(statement.Trim());
            }
        }
    }

    /// <summary>True when the query ends with its own ORDER BY (outside parentheses), so row order is defined.</summary>
    public static bool HasTopLevelOrderBy(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var words = new StringBuilder();
        string? previous = null;
        foreach (var (_, c, depth) in Scan(query))
        {
            if (depth == 0 && (char.IsLetter(c) || c == '_'))
            {
                words.Append(char.ToLowerInvariant(c));
                continue;
            }

            if (words.Length > 0)
            {
                var word = words.ToString();
                words.Clear();
                if (word == "by" && previous == "order")
                {
                    return true;
                }

                previous = word;
            }
        }

        return words.ToString() == "by" && previous == "order";
    }

    private static bool IsBlank(string statement) =>
        Scan(statement).All(x => char.IsWhiteSpace(x.Char));

    /// <summary>The characters of <paramref name="sql"/> that are code (not quoted text or comments), with the parenthesis depth.</summary>
    private static IEnumerable<(int Index, char Char, int Depth)> Scan(string sql)
    {
        var depth = 0;
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                i = sql.IndexOf('\n', i) is var n and >= 0 ? n : sql.Length;
                continue;
            }

            if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                i = sql.IndexOf("*/", i + 2, StringComparison.Ordinal) is var e and >= 0 ? e + 2 : sql.Length;
                yield return (i - 1, ' ', depth);
                continue;
            }

            if (c is '\'' or '"')
            {
                i = SkipQuoted(sql, i, c);
                yield return (i - 1, ' ', depth);
                continue;
            }

            if (c == '$' && DollarTag(sql, i) is { } tag)
            {
                var end = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                i = end >= 0 ? end + tag.Length : sql.Length;
                yield return (i - 1, ' ', depth);
                continue;
            }

            if (c == '(')
            {
                depth++;
            }
            else if (c == ')')
            {
                depth = Math.Max(0, depth - 1);
            }

            yield return (i, c, c == '(' ? depth - 1 : depth);
            i++;
        }
    }

    private static int SkipQuoted(string sql, int start, char quote)
    {
        var i = start + 1;
        while (i < sql.Length)
        {
            if (sql[i] == quote)
            {
                if (i + 1 < sql.Length && sql[i + 1] == quote)
                {
                    i += 2;
                    continue;
                }

                return i + 1;
            }

            i++;
        }

        return sql.Length;
    }

    /// <summary>The dollar-quote tag starting at <paramref name="start"/> (<c>$$</c> or <c>$tag$</c>), or null.</summary>
    private static string? DollarTag(string sql, int start)
    {
        var i = start + 1;
        while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] == '_'))
        {
            i++;
        }

        if (i < sql.Length && sql[i] == '$' && (i == start + 1 || !char.IsDigit(sql[start + 1])))
        {
            return sql[start..(i + 1)];
        }

        return null;
    }
}

using System.Text;

namespace PgRelocate.Online.Fallback;

/// <summary>
/// A row's record literal as PostgreSQL writes it (<c>row::text</c>): "(v1,v2,...)", a value in double quotes
/// when it holds a quote, a backslash, a parenthesis, a comma, white space or nothing, with "" and \ escaping
/// within; an empty unquoted value is NULL. Each value is its type's own text, which its type's input reads back.
/// </summary>
internal static class RecordText
{
    /// <exception cref="FormatException">The text is not a record literal.</exception>
    public static string?[] Parse(string text)
    {
        if (text.Length < 2 || text[0] != '(' || text[^1] != ')')
        {
            throw new FormatException("not a record literal");
        }

        var values = new List<string?>();
        var i = 1;
        while (true)
        {
            if (text[i] is ',' or ')')
            {
                values.Add(null);
            }
            else if (text[i] == '"')
            {
                var value = new StringBuilder();
                i++;
                while (true)
                {
                    var c = text[i];
                    if (c == '\\')
                    {
                        value.Append(text[i + 1]);
                        i += 2;
                    }
                    else if (c == '"' && text[i + 1] == '"')
                    {
                        value.Append('"');
                        i += 2;
                    }
                    else if (c == '"')
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        value.Append(c);
                        i++;
                    }
                }

                values.Add(value.ToString());
            }
            else
            {
                var end = text.IndexOfAny([',', ')'], i);
                values.Add(text[i..end]);
                i = end;
            }

            if (text[i] == ')')
            {
                return [.. values];
            }

            i++;
        }
    }
}

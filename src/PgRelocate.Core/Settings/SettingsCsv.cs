using System.Text;
using PgRelocate.Errors;

namespace PgRelocate.Settings;

/// <summary>
/// Reads the CSV that <c>COPY (SELECT * FROM pg_settings) TO ... (FORMAT csv, HEADER true)</c> writes, the
/// same file psql's <c>\copy</c> produces: a header row, then RFC 4180 fields (quotes doubled, newlines
/// allowed inside quotes). Column order may differ between server versions; columns are found by name.
/// </summary>
internal static class SettingsCsv
{
    private static readonly string[] Required = ["name", "setting", "unit", "category", "context", "vartype", "source"];

    public static IReadOnlyList<PgSetting> ReadFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new UsageException($"Settings file '{path}' does not exist: give a URL or a CSV written by 'pgrelocate settings capture'.");
        }

        using var reader = new StreamReader(path, Encoding.UTF8);
        return Read(reader, path);
    }

    public static IReadOnlyList<PgSetting> Read(TextReader reader, string where)
    {
        var rows = ParseRows(reader, where);
        if (rows.Count == 0)
        {
            throw NotSettings(where, "it is empty");
        }

        var header = rows[0];
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < header.Count; i++)
        {
            index.TryAdd(header[i].Trim(), i);
        }

        var missing = Required.Where(r => !index.ContainsKey(r)).ToList();
        if (missing.Count > 0)
        {
            throw NotSettings(where, $"its header lacks {string.Join(", ", missing)}");
        }

        var settings = new List<PgSetting>();
        for (var r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.Count == 1 && row[0].Length == 0)
            {
                continue;
            }

            if (row.Count != header.Count)
            {
                throw NotSettings(where, $"row {r + 1} has {row.Count} fields where the header has {header.Count}");
            }

            string Get(string column) => row[index[column]];
            settings.Add(new PgSetting(Get("name"), Get("setting"), Get("unit") is { Length: > 0 } u ? u : null, Get("category"), Get("context"), Get("vartype"), Get("source")));
        }

        if (settings.Count == 0)
        {
            throw NotSettings(where, "it has a header but no settings");
        }

        return settings;
    }

    private static UsageException NotSettings(string where, string why) =>
        new($"'{where}' is not a pg_settings CSV ({why}): write one with 'pgrelocate settings capture' or psql's \\copy (select * from pg_settings) to FILE csv header.");

    private static List<List<string>> ParseRows(TextReader reader, string where)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var fieldStarted = false;
        int ch;
        while ((ch = reader.Read()) != -1)
        {
            var c = (char)ch;
            if (quoted)
            {
                if (c == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        field.Append('"');
                        reader.Read();
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    field.Append(c);
                }

                continue;
            }

            switch (c)
            {
                case '"' when field.Length == 0:
                    quoted = true;
                    fieldStarted = true;
                    break;
                case ',':
                    row.Add(field.ToString());
                    field.Clear();
                    fieldStarted = false;
                    break;
                case '\r':
                    break;
                case '\n':
                    row.Add(field.ToString());
                    rows.Add(row);
                    row = [];
                    field.Clear();
                    fieldStarted = false;
                    break;
                default:
                    field.Append(c);
                    fieldStarted = true;
                    break;
            }
        }

        if (quoted)
        {
            throw NotSettings(where, "a quoted field never ends");
        }

        if (fieldStarted || field.Length > 0 || row.Count > 0)
        {
            row.Add(field.ToString());
            rows.Add(row);
        }

        return rows;
    }
}

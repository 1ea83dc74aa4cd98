using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using PgRelocate.Connections;

namespace PgRelocate.Settings;

/// <summary>Renders pg_settings values for display and as safe SQL for ALTER DATABASE ... SET.</summary>
internal static partial class SettingValue
{
    // Parameters whose value is a list of identifiers: a single quoted string would become one element.
    private static readonly HashSet<string> IdentifierLists = new(StringComparer.OrdinalIgnoreCase)
    {
        "search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries",
    };

    public static string WithUnit(string setting, string? unit)
    {
        if (string.IsNullOrEmpty(unit) || setting.Length == 0)
        {
            return setting;
        }

        var m = UnitPattern().Match(unit);
        if (!m.Success || !long.TryParse(setting, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
        {
            return setting;
        }

        // "8kB" means the value counts blocks of 8 kB.
        var factor = m.Groups[1].Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 1;
        return n < 0 ? setting : string.Create(CultureInfo.InvariantCulture, $"{n * factor}{m.Groups[2].Value}");
    }

    /// <summary>The right-hand side of <c>SET name = ...</c> for <paramref name="setting"/>, never open to injection.</summary>
    public static string ToSql(PgSetting setting)
    {
        if (IdentifierLists.Contains(setting.Name))
        {
            var elements = SplitIdentifierList(setting.Setting);
            return elements.Count == 0 ? "''" : string.Join(", ", elements.Select(Db.Ident));
        }

        return Db.Literal(setting.Display);
    }

    /// <summary>Splits <c>"$user", public</c> into its identifiers, undoing the double-quote escaping.</summary>
    internal static List<string> SplitIdentifierList(string value)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        var any = false;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < value.Length && value[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
                any = true;
            }
            else if (c == ',')
            {
                Add();
            }
            else if (!char.IsWhiteSpace(c))
            {
                current.Append(c);
                any = true;
            }
        }

        Add();
        return result;

        void Add()
        {
            if (any)
            {
                result.Add(current.ToString());
            }

            current.Clear();
            any = false;
        }
    }

    [GeneratedRegex(@"^(\d+)?(B|kB|MB|GB|TB|us|ms|s|min|h|d)$")]
    private static partial Regex UnitPattern();
}

namespace PgRelocate.Errors;

/// <summary>
/// Sentences of a message put together (what was found, what to do, "Nothing was changed."): one space
/// between them, each ended with a period unless it ends with one already, so that a message joined from
/// parts written elsewhere never doubles a period nor runs two sentences into one.
/// </summary>
public static class Sentences
{
    /// <summary>The last sentence of a refusal that left everything as it was.</summary>
    public const string NothingChanged = "Nothing was changed.";

    /// <summary>The parts, each ended as a sentence, separated by one space; empty parts are left out.</summary>
    public static string Join(params string?[] parts) =>
        string.Join(' ', parts.Select(p => p?.Trim()).Where(p => !string.IsNullOrEmpty(p)).Select(p => End(p!)));

    /// <summary><see cref="Join"/> of the parts and <see cref="NothingChanged"/>.</summary>
    public static string NothingWasChanged(params string?[] parts) => Join([.. parts, NothingChanged]);

    /// <summary>A count and its noun: "1 table", "2 tables", "0 tables" (<paramref name="plural"/> when it is not the noun and an s).</summary>
    public static string Counted(long count, string noun, string? plural = null) => $"{count} {Plural(count, noun, plural)}";

    /// <summary>The word that goes with a count: <paramref name="one"/> for one, else <paramref name="plural"/> (by default the word and an s): "table"/"tables", "is"/"are".</summary>
    public static string Plural(long count, string one, string? plural = null) => count == 1 ? one : plural ?? one + "s";

    /// <summary>
    /// A short list for a one-line message: the first <paramref name="max"/> names, then how many more ("a, b and 3 more");
    /// <paramref name="separator"/> "; " for names that hold commas themselves.
    /// </summary>
    public static string FirstFew(IReadOnlyCollection<string> names, int max, string separator = ", ") =>
        names.Count <= max ? string.Join(separator, names) : string.Join(separator, names.Take(max)) + $" and {names.Count - max} more";

    /// <summary>
    /// <paramref name="text"/> safe to print on one line: a control character (a NUL, an escape that would drive
    /// the terminal, a line break in a value the user gave) is shown escaped, as <c>\x00</c>, never raw.
    /// </summary>
    public static string Printable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var sb = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            sb.Append(char.IsControl(c) ? (c <= 0xFF ? $"\\x{(int)c:x2}" : $"\\u{(int)c:x4}") : c);
        }

        return sb.ToString();
    }

    /// <summary>The sentence with a final period, unless it ends with one (or with '!', '?', or a period closed by a parenthesis or a quote).</summary>
    public static string End(string sentence)
    {
        var s = sentence.TrimEnd();
        var last = s.TrimEnd(')', '"', '\'');
        return last.Length > 0 && last[^1] is '.' or '!' or '?' ? s : s + ".";
    }
}

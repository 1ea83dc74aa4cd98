using System.Globalization;
using PgRelocate.Errors;

namespace PgRelocate.Staging;

/// <summary>Parses how long a signed URL lives: <c>90s</c>, <c>15m</c>, <c>2h</c>, <c>7d</c>; at most 7 days (S3's limit).</summary>
public static class Expiry
{
    public static readonly TimeSpan Default = TimeSpan.FromMinutes(15);

    public static readonly TimeSpan Maximum = TimeSpan.FromDays(7);

    /// <exception cref="UsageException">Not a duration, zero, negative, or longer than 7 days.</exception>
    public static TimeSpan Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        var unit = t.Length > 0 && char.IsLetter(t[^1]) ? char.ToLowerInvariant(t[^1]) : 's';
        var number = char.IsLetter(t.Length > 0 ? t[^1] : '0') ? t[..^1] : t;
        if (!double.TryParse(number, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || unit is not ('s' or 'm' or 'h' or 'd'))
        {
            throw new UsageException($"--expires '{text}' is not a duration: write it like 90s, 15m, 2h or 7d.");
        }

        var span = unit switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'h' => TimeSpan.FromHours(value),
            _ => TimeSpan.FromDays(value),
        };
        if (span < TimeSpan.FromSeconds(1))
        {
            throw new UsageException($"--expires '{text}' must be at least one second: a signed URL that is already dead is of no use.");
        }

        if (span > Maximum)
        {
            throw new UsageException($"--expires '{text}' is longer than 7 days, the most a signed URL may live; keep it as short as the restore needs.");
        }

        return span;
    }
}

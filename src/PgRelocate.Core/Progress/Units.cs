using System.Globalization;

namespace PgRelocate.Progress;

/// <summary>Human renderings of sizes, rates and durations, the same in every output.</summary>
public static class Units
{
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1000 && unit < units.Length - 1)
        {
            value /= 1000;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    /// <summary>
    /// A size as a person writes it: "20GB", "500 MB", "1.5TB", "4096" (bytes). kB, MB, GB and TB are powers of
    /// 1000, as <see cref="Bytes"/> prints sizes; KiB, MiB, GiB and TiB are powers of 1024. Units in any case.
    /// Rounded to a whole byte; null when it is not a size, or larger than a long holds.
    /// </summary>
    public static long? ParseBytes(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        var split = t.Length;
        while (split > 0 && char.IsLetter(t[split - 1]))
        {
            split--;
        }

        double unit = t[split..].ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            "KIB" => 1L << 10,
            "MIB" => 1L << 20,
            "GIB" => 1L << 30,
            "TIB" => 1L << 40,
            _ => 0,
        };
        if (unit == 0 || !double.TryParse(t[..split].Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return null;
        }

        var bytes = Math.Round(number * unit);
        return bytes < long.MaxValue ? (long)bytes : null;
    }

    public static string Rate(double bytesPerSecond) => Bytes((long)bytesPerSecond) + "/s";

    public static string Duration(TimeSpan span) =>
        span.TotalSeconds < 60
            ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.0}s")
            : span.TotalHours < 1
                ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes}m{span.Seconds:00}s")
                : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours}h{span.Minutes:00}m");
}

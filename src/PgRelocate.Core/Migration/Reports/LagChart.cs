using System.Globalization;
using System.Net;
using System.Text;
using PgRelocate.Progress;

namespace PgRelocate.Migration.Reports;

/// <summary>
/// An online migration's lag over time as inline SVG, for the HTML report: the lag in seconds and the apply
/// rate on one time axis, over bands for the phases (follow, verify, cutover) named as `status` names them.
/// Drawn from the samples the steps recorded in the journal; no script and nothing fetched, so the report
/// stays one self-contained file.
/// </summary>
internal static class LagChart
{
    private const int Width = 940, Left = 64, Right = 78, Top = 30, Plot = 200, Bottom = 52;

    /// <summary>Every step's lag samples in time order; empty when the migration did not follow a source.</summary>
    public static IReadOnlyList<LagSample> Samples(MigrationJournal journal) =>
        journal.Steps.Where(s => s.Lag is not null).SelectMany(s => s.Lag!).OrderBy(s => s.At).ToList();

    /// <summary>The chart, or null when there is nothing to draw.</summary>
    public static string? Svg(IReadOnlyList<LagSample> samples)
    {
        if (samples.Count == 0)
        {
            return null;
        }

        // Each sample stands for the span to the next one: the last one too, for as long as usual.
        var start = samples[0].At;
        var span = Math.Max(0.001, (samples[^1].At - start).TotalSeconds + Step(samples));
        var plotWidth = Width - Left - Right;
        var lagMax = Nice(samples.Max(s => s.LagSeconds));
        var rateMax = Nice(samples.Max(s => s.ChangesPerSecond));
        double X(DateTimeOffset at) => Left + (plotWidth * (at - start).TotalSeconds / span);
        double Y(double value, double max) => Top + Plot - (Plot * Math.Clamp(value / max, 0, 1));
        var bottom = Top + Plot;

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"lag-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Top + Plot + Bottom}\" role=\"img\" aria-label=\"Lag and apply rate over time\">");
        sb.Append("<title>Lag and apply rate over time</title>");

        // The phases, as bands behind the lines.
        foreach (var (phase, from, to) in Phases(samples))
        {
            var x = X(from);
            var w = Math.Max(1, X(to) - x);
            sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"phase\" x=\"{x:0.0}\" y=\"{Top}\" width=\"{w:0.0}\" height=\"{Plot}\" fill=\"{Fill(phase)}\"><title>{E(phase)}: {Clock(from, span)} to {Clock(to, span)} ({Units.Duration(to - from)})</title></rect>");
            if (w >= 48)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<text class=\"phase-label\" x=\"{x + 4:0.0}\" y=\"{Top + 14}\" fill=\"#555\">{E(phase)}</text>");
            }
        }

        // Grid and both value axes: the lag on the left, the apply rate on the right.
        foreach (var fraction in (double[])[0, 0.5, 1])
        {
            var y = Y(fraction, 1);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{y:0.0}\" x2=\"{Left + plotWidth}\" y2=\"{y:0.0}\" stroke=\"#d5d8e0\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{Left - 6}\" y=\"{y + 4:0.0}\" text-anchor=\"end\">{Number(lagMax * fraction)}s</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{Left + plotWidth + 6}\" y=\"{y + 4:0.0}\">{Number(rateMax * fraction)}</text>");
        }

        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" transform=\"translate(14 {Top + (Plot / 2)}) rotate(-90)\" text-anchor=\"middle\" fill=\"#c0392b\">lag (s)</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" transform=\"translate({Width - 10} {Top + (Plot / 2)}) rotate(90)\" text-anchor=\"middle\" fill=\"#2f6fd6\">changes/s</text>");

        // The time axis, five ticks from the first sample to the last.
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{bottom}\" x2=\"{Left + plotWidth}\" y2=\"{bottom}\" stroke=\"#888\"/>");
        for (var i = 0; i <= 4; i++)
        {
            var at = start + TimeSpan.FromSeconds(span * i / 4);
            var anchor = i == 0 ? "start" : i == 4 ? "end" : "middle";
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{X(at):0.0}\" y=\"{bottom + 16}\" text-anchor=\"{anchor}\">{Clock(at, span)}</text>");
        }

        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Left + (plotWidth / 2)}\" y=\"{bottom + 34}\" text-anchor=\"middle\">time (UTC)</text>");

        // The lines, one point per sample, broken where no sample was taken (between two steps, a killed run).
        foreach (var segment in Segments(samples))
        {
            sb.Append(CultureInfo.InvariantCulture, $"<polyline class=\"rate\" fill=\"none\" stroke=\"#2f6fd6\" stroke-width=\"1.5\" points=\"{Points(segment, s => (X(s.At), Y(s.ChangesPerSecond, rateMax)))}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<polyline class=\"lag\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\" points=\"{Points(segment, s => (X(s.At), Y(s.LagSeconds, lagMax)))}\"/>");
            if (segment.Count == 1)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{X(segment[0].At):0.0}\" cy=\"{Y(segment[0].LagSeconds, lagMax):0.0}\" r=\"3\" fill=\"#c0392b\"/>");
            }
        }

        // The legend, above the plot on the right.
        var legend = Left + plotWidth - 330;
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{legend}\" y1=\"{Top - 12}\" x2=\"{legend + 18}\" y2=\"{Top - 12}\" stroke=\"#c0392b\" stroke-width=\"2\"/><text x=\"{legend + 22}\" y=\"{Top - 8}\">lag (worst of each sample)</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{legend + 190}\" y1=\"{Top - 12}\" x2=\"{legend + 208}\" y2=\"{Top - 12}\" stroke=\"#2f6fd6\" stroke-width=\"1.5\"/><text x=\"{legend + 212}\" y=\"{Top - 8}\">apply rate</text>");
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>
    /// The samples in runs without a gap: a gap is a pause between two samples more than four times the usual
    /// one (and over ten seconds), where nothing was sampled: the line does not pretend to know the lag there.
    /// </summary>
    internal static IReadOnlyList<IReadOnlyList<LagSample>> Segments(IReadOnlyList<LagSample> samples)
    {
        var limit = Math.Max(10, 4 * Step(samples));
        var segments = new List<IReadOnlyList<LagSample>>();
        var current = new List<LagSample>();
        foreach (var sample in samples)
        {
            if (current.Count > 0 && (sample.At - current[^1].At).TotalSeconds > limit)
            {
                segments.Add(current);
                current = [];
            }

            current.Add(sample);
        }

        if (current.Count > 0)
        {
            segments.Add(current);
        }

        return segments;
    }

    /// <summary>The usual time between two samples (their median), in seconds; one second when there is a single sample.</summary>
    private static double Step(IReadOnlyList<LagSample> samples)
    {
        var gaps = samples.Zip(samples.Skip(1), (a, b) => (b.At - a.At).TotalSeconds).Order().ToList();
        return gaps.Count == 0 ? 1 : gaps[gaps.Count / 2];
    }

    /// <summary>Runs of one phase: from its first sample to the next run's first sample, or a usual step past its own last one before a gap.</summary>
    internal static IReadOnlyList<(string Phase, DateTimeOffset From, DateTimeOffset To)> Phases(IReadOnlyList<LagSample> samples)
    {
        var step = TimeSpan.FromSeconds(Step(samples));
        var runs = new List<(string, DateTimeOffset, DateTimeOffset)>();
        foreach (var segment in Segments(samples))
        {
            var first = 0;
            for (var i = 1; i <= segment.Count; i++)
            {
                if (i == segment.Count || segment[i].Phase != segment[first].Phase)
                {
                    runs.Add((segment[first].Phase, segment[first].At, i == segment.Count ? segment[^1].At + step : segment[i].At));
                    first = i;
                }
            }
        }

        return runs;
    }

    private static string Points(IReadOnlyList<LagSample> samples, Func<LagSample, (double X, double Y)> at) =>
        string.Join(' ', samples.Select(s => at(s)).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.X:0.0},{p.Y:0.0}")));

    /// <summary>The smallest of 1, 2 or 5 times a power of ten that is at least <paramref name="value"/>.</summary>
    private static double Nice(double value)
    {
        if (value <= 0 || double.IsNaN(value) || double.IsInfinity(value))
        {
            return 1;
        }

        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return new[] { 1, 2, 5, 10 }.Select(m => m * power).First(v => v >= value * 0.999999);
    }

    private static string Number(double value) => value.ToString(value >= 10 || value == Math.Floor(value) ? "0" : "0.##", CultureInfo.InvariantCulture);

    /// <summary>A time of day in UTC, with the date over a day and tenths of a second under twenty seconds.</summary>
    private static string Clock(DateTimeOffset at, double span = 60) =>
        at.UtcDateTime.ToString(span > 86400 ? "MM-dd HH:mm" : span < 20 ? "HH:mm:ss.f" : "HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Fill(string phase) => phase switch
    {
        LagPhases.Follow => "#eaf2fb",
        LagPhases.Verify => "#fff3c4",
        LagPhases.Cutover => "#fde3e1",
        _ => "#eeeeee",
    };

    private static string E(string text) => WebUtility.HtmlEncode(text);
}

using System.Text.RegularExpressions;
using PgRelocate.Migration;
using PgRelocate.Migration.Reports;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// An online migration's lag over time: the bounded history the follow keeps, and the chart the HTML report
/// draws from the samples recorded in the journal, as one self-contained page.
/// </summary>
public partial class LagChartTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 9, 30, 0, TimeSpan.Zero);

    [Fact]
    public void Should_Keep_At_Most_Its_Capacity_Evenly_Spaced_With_The_Worst_Lag()
    {
        var history = new LagHistory();
        // Three days of follow, a status every second, with one spike of lag in the middle of the second day.
        var spike = Start.AddDays(1.5);
        for (var t = Start; t < Start.AddDays(3); t = t.AddSeconds(1))
        {
            history.Add(new LagSample(t, OnlinePhases.Follow, 1000, t == spike ? 42.5 : 0.2, 100));
        }

        Assert.InRange(history.Count, LagHistory.DefaultCapacity / 2, LagHistory.DefaultCapacity);
        Assert.Equal(42.5, history.Max(s => s.LagSeconds));
        Assert.Equal(100, history.Average(s => s.ChangesPerSecond), 3);
        var gaps = history.Zip(history.Skip(1), (a, b) => b.At - a.At).Distinct().ToList();
        Assert.Equal(history.Interval, Assert.Single(gaps));
    }

    [Fact]
    public void Should_Sample_About_Every_Two_Seconds_And_Keep_Phases_Apart()
    {
        var history = new LagHistory();
        for (var s = 0; s < 20; s++)
        {
            history.Add(new LagSample(Start.AddSeconds(s), s < 10 ? OnlinePhases.Follow : OnlinePhases.Verify, s, s, 10));
        }

        Assert.Equal(10, history.Count);
        Assert.Equal(LagHistory.FirstInterval, history.Interval);
        Assert.Equal([OnlinePhases.Follow, OnlinePhases.Verify], history.Select(s => s.Phase).Distinct());
        Assert.Equal(9, history.Where(s => s.Phase == OnlinePhases.Follow).Max(s => s.LagSeconds));
        var merged = LagHistory.Downsample(history, 3);
        Assert.InRange(merged.Count, 2, 4);
        Assert.Equal(19, merged.Max(s => s.LagBytes));
        Assert.Contains(merged, s => s.Phase == OnlinePhases.Verify);
    }

    [Fact]
    public async Task Should_Draw_The_Recorded_Lag_As_A_Self_Contained_Chart_With_Its_Phases()
    {
        var follow = new List<LagSample>();
        for (var s = 0; s < 60; s += 2)
        {
            var phase = s is >= 20 and < 30 ? OnlinePhases.Verify : OnlinePhases.Follow;
            follow.Add(new LagSample(Start.AddSeconds(s), phase, 5000L * s, phase == OnlinePhases.Verify ? s - 18 : 0.4, phase == OnlinePhases.Verify ? 0 : 250));
        }

        List<LagSample> cutover = [new(Start.AddSeconds(70), OnlinePhases.Cutover, 800, 1.5, 900), new(Start.AddSeconds(72), "<b>odd & \"phase\"</b>", 0, 0, 0)];
        var journal = Journal(
            new StepRecord { Name = "follow", Status = StepStatus.Done, StartedAt = Start, FinishedAt = Start.AddSeconds(60), Lag = follow },
            new StepRecord { Name = "read-only source", Status = StepStatus.Done, StartedAt = Start.AddSeconds(60), FinishedAt = Start.AddSeconds(69) },
            new StepRecord { Name = "cutover", Status = StepStatus.Done, StartedAt = Start.AddSeconds(69), FinishedAt = Start.AddSeconds(73), Lag = cutover });

        var html = MigrationReport.Html(journal);

        var svg = Svg(html);
        Assert.Equal(follow.Count + cutover.Count, PointsOf(svg, "lag"));
        Assert.Equal(follow.Count + cutover.Count, PointsOf(svg, "rate"));
        // Nothing was sampled while the source was made read-only: the lines break there.
        Assert.Equal(2, Regex.Count(svg, "<polyline class=\"lag\""));
        foreach (var label in (string[])["lag (s)", "changes/s", "time (UTC)", "09:30:00", "09:31:14", ">follow<", ">verify<"])
        {
            Assert.Contains(label, svg, StringComparison.Ordinal);
        }

        // follow, verify, follow, cutover and the odd one: each a band, named.
        Assert.Equal(5, Regex.Count(svg, "<rect class=\"phase\""));
        Assert.Contains("&lt;b&gt;odd &amp; &quot;phase&quot;&lt;/b&gt;", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
        AssertSelfContained(html);

        // A browser draws it as the same SVG.
        using var dir = new TempDir();
        await File.WriteAllTextAsync(dir.File("report.html"), html);
        var dom = await HeadlessChromium.DumpDomAsync(dir.File("report.html"));
        Assert.Equal(follow.Count + cutover.Count, PointsOf(Svg(dom), "lag"));
    }

    [Fact]
    public void Should_Draw_No_Chart_Without_Samples_And_A_Point_For_One()
    {
        var none = MigrationReport.Html(Journal(new StepRecord { Name = "verify", Status = StepStatus.Done, StartedAt = Start, FinishedAt = Start.AddSeconds(3) }));
        var one = MigrationReport.Html(Journal(new StepRecord { Name = "cutover", Status = StepStatus.Done, StartedAt = Start, FinishedAt = Start.AddSeconds(3), Lag = [new(Start, OnlinePhases.Cutover, 10, 0.5, 3)] }));

        Assert.DoesNotContain("lag-chart", none, StringComparison.Ordinal);
        Assert.DoesNotContain("Lag over time", none, StringComparison.Ordinal);
        Assert.Equal(1, PointsOf(Svg(one), "lag"));
        Assert.Contains("<circle", Svg(one), StringComparison.Ordinal);
    }

    [Fact]
    public void Should_Name_The_Phases_In_Status_As_The_Chart_Does()
    {
        var verify = new OnlineStatus { Phase = OnlinePhases.Verify, AppliedLsn = "0/1A2B3C", LagBytes = 2_500_000, LagSeconds = 31.5, Changes = 1200 }.Describe();
        var follow = new OnlineStatus { Phase = OnlinePhases.Follow, LagBytes = 1000, LagSeconds = 0.2, ChangesPerSecond = 250, Changes = 1200 }.Describe();

        Assert.StartsWith("verify: the target is compared with the source as of one position while the follow goes on", verify, StringComparison.Ordinal);
        Assert.Contains("lag 2.5 MB, 31.5s", verify, StringComparison.Ordinal);
        Assert.StartsWith("follow: lag 1.0 kB, 0.2s; 250 changes/s", follow, StringComparison.Ordinal);
    }

    /// <summary>Nothing fetched or run: no script, no link, no URL but the SVG namespace.</summary>
    internal static void AssertSelfContained(string html)
    {
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        var outside = html.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal);
        Assert.DoesNotContain("http://", outside, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", outside, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The lag chart's markup.</summary>
    internal static string Svg(string html)
    {
        var match = LagSvg().Match(html);
        Assert.True(match.Success, "no lag chart in the report");
        return match.Value;
    }

    /// <summary>How many points a line of the chart has ("lag" or "rate"), over all its pieces.</summary>
    internal static int PointsOf(string svg, string line)
    {
        var pieces = Regex.Matches(svg, $"<polyline class=\"{line}\"[^>]* points=\"([^\"]*)\"");
        Assert.True(pieces.Count > 0, $"no {line} line in the chart");
        return pieces.Sum(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(p => PointPattern().IsMatch(p)));
    }

    private static MigrationJournal Journal(params StepRecord[] steps) => new()
    {
        Id = "20260301-093000-ab12",
        Source = "postgres://app@old-host:5432/app",
        Target = "postgres://app@new-host:5432/app",
        CreatedAt = Start.AddSeconds(-30),
        FinishedAt = Start.AddSeconds(75),
        Status = MigrationStatus.Completed,
        Steps = [.. steps],
    };

    [GeneratedRegex("<svg id=\"lag-chart\".*?</svg>", RegexOptions.Singleline)]
    private static partial Regex LagSvg();

    [GeneratedRegex(@"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$")]
    private static partial Regex PointPattern();
}

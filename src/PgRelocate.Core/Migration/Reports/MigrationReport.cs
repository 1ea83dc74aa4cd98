using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using PgRelocate.Errors;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Migration.Reports;

/// <summary>
/// Renders a migration's journal for people: a single self-contained HTML page (a timeline of the steps drawn
/// to scale, an online migration's lag over time, sizes and rates, every step's tables), Markdown, or JSON. The journal holds no secrets, so
/// neither does the report.
/// </summary>
public static class MigrationReport
{
    /// <summary>Writes the report in the format its extension names (.html, .md, .json).</summary>
    /// <summary>Refuses a report path whose extension names no format this writes, before the migration starts.</summary>
    /// <exception cref="UsageException">It names none.</exception>
    public static void CheckPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Tools.OutputPaths.EnsureWritable(path, "--report");
        if (Path.GetExtension(path).ToLowerInvariant() is not (".html" or ".htm" or ".md" or ".markdown" or ".json"))
        {
            throw new UsageException($"--report '{path}' must end in .html, .md or .json.");
        }
    }

    public static void Write(MigrationJournal journal, string path)
    {
        var text = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".html" or ".htm" => Html(journal),
            ".md" or ".markdown" => Markdown(journal),
            ".json" => Json(journal),
            var other => throw new UsageException($"--report '{path}': the extension '{other}' is not .html, .md or .json."),
        };
        var temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The journal as JSON, as the journal itself is written (<see cref="JournalJson"/>).</summary>
    public static string Json(MigrationJournal journal) => JsonSerializer.Serialize(journal, JournalJson.Default.MigrationJournal);

    /// <summary>The facts at the top of every rendering, as label and value.</summary>
    public static IReadOnlyList<(string Label, string Value)> Facts(MigrationJournal j)
    {
        var facts = new List<(string, string)>
        {
            ("Migration", j.Id),
            ("Source", j.Source),
            ("Target", j.Target),
            ("Status", j.Status.ToString()),
            ("Started", j.CreatedAt.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)),
        };
        if (j.FinishedAt is { } finished)
        {
            facts.Add(("Finished", finished.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)));
            facts.Add(("Duration", Units.Duration(finished - j.CreatedAt)));
        }

        var dbBytes = j.Output(DumpStep.StepName, DumpStep.DatabaseBytes);
        if (dbBytes is { } original)
        {
            facts.Add(("Original size", Units.Bytes(original)));
        }

        if (j.Output(DumpStep.StepName, DumpStep.ArchiveBytes) is { } archiveBytes)
        {
            var dump = j.Step(DumpStep.StepName);
            var rate = dump is { StartedAt: { } s, FinishedAt: { } f } && f > s ? $", {Units.Rate(archiveBytes / (f - s).TotalSeconds)}" : "";
            var ratio = dbBytes is { } total && total > 0 ? $", {100 - (100.0 * archiveBytes / total):0}% smaller than the database" : "";
            facts.Add(("Archive", $"{Units.Bytes(archiveBytes)}{ratio}{rate}"));
        }

        if (j.Error is { } error)
        {
            facts.Add(("Error", error));
        }

        return facts;
    }

    public static string Markdown(MigrationJournal j)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"# Migration {j.Id}: {j.Status}").AppendLine();
        foreach (var (label, value) in Facts(j))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- **{label}**: {value}");
        }

        sb.AppendLine().AppendLine("## Steps").AppendLine();
        sb.AppendLine("| step | status | duration | summary |").AppendLine("| --- | --- | --- | --- |");
        foreach (var s in j.Steps)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {Cell(s.Name)} | {s.Status} | {StepDuration(s)} | {Cell(s.Error ?? s.Summary ?? "")} |");
        }

        foreach (var t in Tables(j))
        {
            sb.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"## {t.Title}").AppendLine();
            if (t.Note is not null)
            {
                sb.AppendLine(t.Note).AppendLine();
            }

            if (t.Rows.Count == 0)
            {
                continue;
            }

            sb.AppendLine("| " + string.Join(" | ", t.Columns.Select(Cell)) + " |");
            sb.AppendLine("|" + string.Concat(t.Columns.Select(_ => " --- |")));
            foreach (var row in t.Rows)
            {
                sb.AppendLine("| " + string.Join(" | ", row.Select(Cell)) + " |");
            }
        }

        sb.AppendLine().AppendLine("## Log").AppendLine().AppendLine("```");
        foreach (var line in j.Log)
        {
            sb.AppendLine(line);
        }

        sb.AppendLine("```");
        return sb.ToString();
    }

    public static string Html(MigrationJournal j)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Migration ").Append(E(j.Id)).Append("</title><style>")
          .Append("body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2330}")
          .Append("h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.2rem}")
          .Append("table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e6e8ef;vertical-align:top}")
          .Append("th{background:#f3f5fa;font-weight:600}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}")
          .Append(".Completed,.Done{color:#19713a}.Failed{color:#b3261e}.Canceled,.Skipped{color:#8a6d00}.Running{color:#1f5fbf}")
          .Append("pre{background:#f6f7fb;padding:.8rem;overflow:auto;font-size:12px}.note{color:#555}svg text{font:12px system-ui,sans-serif}")
          .Append("</style></head><body>");
        sb.Append("<h1>Migration ").Append(E(j.Id)).Append(": <span class=\"").Append(j.Status).Append("\">").Append(j.Status).Append("</span></h1><dl>");
        foreach (var (label, value) in Facts(j))
        {
            sb.Append("<dt>").Append(E(label)).Append("</dt><dd>").Append(E(value)).Append("</dd>");
        }

        sb.Append("</dl><h2>Timeline</h2>").Append(Timeline(j));
        if (LagChart.Svg(LagChart.Samples(j)) is { } lag)
        {
            sb.Append("<h2>Lag over time</h2>").Append(lag);
        }

        sb.Append("<h2>Steps</h2><table id=\"steps\"><tr><th>step</th><th>status</th><th>duration</th><th>summary</th></tr>");
        foreach (var s in j.Steps)
        {
            sb.Append("<tr><td>").Append(E(s.Name)).Append("</td><td class=\"").Append(s.Status).Append("\">").Append(s.Status)
              .Append("</td><td>").Append(StepDuration(s)).Append("</td><td>").Append(E(s.Error ?? s.Summary ?? "")).Append("</td></tr>");
        }

        sb.Append("</table>");
        foreach (var t in Tables(j))
        {
            sb.Append("<h2>").Append(E(t.Title)).Append("</h2>");
            if (t.Note is not null)
            {
                sb.Append("<p class=\"note\">").Append(E(t.Note)).Append("</p>");
            }

            if (t.Rows.Count == 0)
            {
                continue;
            }

            sb.Append("<table><tr>");
            foreach (var c in t.Columns)
            {
                sb.Append("<th>").Append(E(c)).Append("</th>");
            }

            sb.Append("</tr>");
            foreach (var row in t.Rows)
            {
                sb.Append("<tr>");
                foreach (var cell in row)
                {
                    sb.Append("<td>").Append(E(cell)).Append("</td>");
                }

                sb.Append("</tr>");
            }

            sb.Append("</table>");
        }

        sb.Append("<h2>Log</h2><pre>");
        foreach (var line in j.Log)
        {
            sb.Append(E(line)).Append('\n');
        }

        sb.Append("</pre></body></html>\n");
        return sb.ToString();
    }

    /// <summary>Each step as a bar from its start to its end, on one time axis from the migration's start.</summary>
    private static string Timeline(MigrationJournal j)
    {
        var timed = j.Steps.Where(s => s.StartedAt is not null).ToList();
        if (timed.Count == 0)
        {
            return "<p class=\"note\">No step has run yet.</p>";
        }

        var start = j.CreatedAt;
        var end = timed.Max(s => s.FinishedAt ?? DateTimeOffset.UtcNow);
        var total = Math.Max(0.001, (end - start).TotalSeconds);
        const int Label = 150, Width = 800, Row = 26;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Label + Width + 90}\" height=\"{(timed.Count * Row) + 30}\" role=\"img\" aria-label=\"Timeline of the migration's steps\">");
        for (var i = 0; i < timed.Count; i++)
        {
            var s = timed[i];
            var x = Label + (Width * (s.StartedAt!.Value - start).TotalSeconds / total);
            var w = Math.Max(2, Width * ((s.FinishedAt ?? end) - s.StartedAt.Value).TotalSeconds / total);
            var y = i * Row;
            var color = s.Status switch { StepStatus.Done => "#2e8b57", StepStatus.Failed => "#c0392b", StepStatus.Running => "#2f6fd6", _ => "#b8a000" };
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{y + 17}\">{E(s.Name)}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"bar\" x=\"{x:0.0}\" y=\"{y + 4}\" width=\"{w:0.0}\" height=\"{Row - 8}\" rx=\"3\" fill=\"{color}\"><title>{E(s.Name)}: {StepDuration(s)}</title></rect>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + w + 6:0.0}\" y=\"{y + 17}\">{StepDuration(s)}</text>");
        }

        var axisY = (timed.Count * Row) + 18;
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Label}\" y1=\"{axisY - 10}\" x2=\"{Label + Width}\" y2=\"{axisY - 10}\" stroke=\"#888\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Label}\" y=\"{axisY + 6}\">0s</text><text x=\"{Label + Width - 40}\" y=\"{axisY + 6}\">{Units.Duration(end - start)}</text>");
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>The report's tables: the estimate beside what happened, then each step's.</summary>
    private static IEnumerable<ReportTable> Tables(MigrationJournal j) =>
        (j.Estimate is { } pair ? [pair.Table()] : Enumerable.Empty<ReportTable>()).Concat(j.Steps.SelectMany(s => s.Tables));

    private static string StepDuration(StepRecord s) =>
        s.StartedAt is { } a ? Units.Duration((s.FinishedAt ?? DateTimeOffset.UtcNow) - a) : "";

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}

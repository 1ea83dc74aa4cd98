using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Verify;
using Spectre.Console;

namespace PgRelocate.Cli.Rendering;

/// <summary>The human form of a verification: a summary table, then every difference by name.</summary>
internal static class VerifyRenderer
{
    public static void Render(IAnsiConsole console, VerificationResult result)
    {
        // Piped output is never wrapped (see ConsoleReporter.Stdout); it gets no colour either.
        var plain = Console.IsOutputRedirected;

        // Colour only on a terminal: a log or a file gets the words without escape codes.
        string Ok(string text) => plain ? text : $"[green]{text}[/]";
        string Bad(string text) => plain ? text : $"[red]{text}[/]";
        string Bold(string text) => plain ? text : $"[bold]{text}[/]";

        console.MarkupLine($"Source: {Markup.Escape(result.Source)}");
        console.MarkupLine($"Target: {Markup.Escape(result.Target)}");
        console.WriteLine();

        var objects = new Table().AddColumns("objects", "source", "target", "");
        foreach (var c in result.ObjectCounts)
        {
            objects.AddRow(c.Kind, N(c.Source), N(c.Target), c.Equal ? Ok("ok") : Bad("differs"));
        }

        console.Write(objects);

        var tables = new Table().AddColumns("table", "source rows", "target rows", result.Mode == VerifyMode.Counts ? "counts" : "checksums");
        foreach (var t in result.Tables)
        {
            tables.AddRow(Markup.Escape(t.Name), N(t.SourceRows), N(t.TargetRows), t.Equal ? Ok("ok") : Bad("differs"));
        }

        if (result.Tables.Count > 0)
        {
            console.Write(tables);
        }

        if (result.SchemaDifferences.Count > 0)
        {
            console.MarkupLine(Bold("Schema differences"));
            foreach (var d in result.SchemaDifferences)
            {
                if (d.Difference == DifferenceKind.Different && d.Kind == "extension")
                {
                    // An extension's definition is its version: say which side has which.
                    console.MarkupLine($"  extension {Markup.Escape(d.Name)}: {Markup.Escape(d.SourceDefinition ?? "")} on the source, {Markup.Escape(d.TargetDefinition ?? "")} on the target");
                    continue;
                }

                console.MarkupLine($"  {Markup.Escape(d.Kind)} {Markup.Escape(d.Name)}: {Describe(d.Difference)}");
                // Owners, privileges and roles (--roles) say each side's value, even where one side has none.
                if (d.Difference == DifferenceKind.Different || (d.SourceDefinition is not null && d.TargetDefinition is not null))
                {
                    console.MarkupLine($"    source: {Markup.Escape(OneLine(d.SourceDefinition))}");
                    console.MarkupLine($"    target: {Markup.Escape(OneLine(d.TargetDefinition))}");
                }
            }
        }

        if (result.ChosenDifferences.Count > 0)
        {
            console.MarkupLine(Bold("Differences --roles chose") + " (expected, not a failure)");
            foreach (var d in result.ChosenDifferences)
            {
                console.MarkupLine($"  {Markup.Escape(d.Kind)} {Markup.Escape(d.Name)}: expected, {Markup.Escape(d.Reason)}");
                console.MarkupLine($"    source: {Markup.Escape(OneLine(d.SourceDefinition))}");
                console.MarkupLine($"    target: {Markup.Escape(OneLine(d.TargetDefinition))}");
            }
        }

        if (result.ProviderObjects.Count > 0)
        {
            console.MarkupLine(Bold("Provider's, left alone") + " (not compared, not a difference)");
            foreach (var o in result.ProviderObjects)
            {
                console.MarkupLine($"  {Markup.Escape(o.Note)}");
            }
        }

        foreach (var t in result.Tables.Where(t => !t.Equal))
        {
            console.MarkupLine($"{Bold("Table " + Markup.Escape(t.Name))}: {N(t.SourceRows)} rows on the source, {N(t.TargetRows)} on the target" +
                               (t.SourceRows == t.TargetRows ? ", contents differ" : ""));
            if (t.Note is not null)
            {
                console.MarkupLine($"  {Markup.Escape(t.Note)}");
            }

            foreach (var row in t.Rows)
            {
                var key = string.Join(", ", row.Key.Select(k => $"{k.Key}={k.Value}"));
                console.MarkupLine($"  {Markup.Escape(key)}: {Describe(row.Difference)}");
                foreach (var c in row.Columns ?? [])
                {
                    console.MarkupLine($"    {Markup.Escape(c.Column)}: {Markup.Escape(Value(c.Source))} -> {Markup.Escape(Value(c.Target))}");
                }
            }

            if (t.RowsTruncated)
            {
                console.MarkupLine("  ... more differing rows (raise --max-rows to list them)");
            }
        }

        foreach (var q in result.Queries)
        {
            var status = q.Equal ? Ok("same results") : Bad("results differ");
            console.MarkupLine($"{Bold("Query")} {Markup.Escape(OneLine(q.Query))}: {status} ({N(q.SourceRows)} rows on the source, {N(q.TargetRows)} on the target, {(q.Ordered ? "in order" : "any order")})");
            if (q.Error is not null)
            {
                console.MarkupLine($"  failed on the {Markup.Escape(q.Error)}");
            }

            foreach (var r in q.Rows)
            {
                var where = r.Position is { } p ? $"row {p}: " : "";
                console.MarkupLine($"  {where}source {Markup.Escape(r.Source ?? "(none)")}, target {Markup.Escape(r.Target ?? "(none)")}");
            }
        }

        console.WriteLine();
        var tablesDiffering = result.Tables.Count(t => !t.Equal);
        console.MarkupLine(result.HasDifferences
            ? $"{Bad("Differences found")}: {result.SchemaDifferences.Count} schema, {tablesDiffering} of {result.Tables.Count} tables, {result.Queries.Count(q => !q.Equal)} of {result.Queries.Count} queries."
            : $"{Ok("Source and target match")}: {result.Tables.Count} tables, {result.Queries.Count} queries ({result.Mode.ToString().ToLowerInvariant()}){(result.RolesCompared ? ", owners, privileges and roles" : "")}{(result.ChosenDifferences.Count > 0 ? $" ({result.ChosenDifferences.Count} expected {Sentences.Plural(result.ChosenDifferences.Count, "difference")} --roles chose, listed above)" : "")}.");
    }

    private static string Describe(DifferenceKind kind) => kind switch
    {
        DifferenceKind.MissingOnTarget => "missing on the target",
        DifferenceKind.ExtraOnTarget => "extra on the target",
        _ => "differs",
    };

    private static string Value(string? value) => value is null ? "NULL" : "'" + value + "'";

    private static string OneLine(string? text)
    {
        var line = string.Join(' ', (text ?? "").Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim();
        return line.Length > 160 ? line[..157] + "..." : line;
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}

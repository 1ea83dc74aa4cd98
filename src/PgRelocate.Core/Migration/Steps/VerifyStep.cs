using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Verify;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// Verifies the target against the source, content checksums included, and with --roles owners, privileges and
/// roles. Any difference fails the migration (exit 3), but a reused role's attributes (reported, never altered).
/// </summary>
internal sealed class VerifyStep : IMigrationStep
{
    public const string StepName = "verify";

    /// <summary>How many tables were compared.</summary>
    public static readonly JournalKey<long?> TablesCompared = JournalKey.Count("tables");

    public static readonly JournalKey<bool?> Differences = JournalKey.Flag("differences");

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var result = await Verifier.RunAsync(
            new VerifyOptions
            {
                Source = options.Source, Target = options.Into.Connection, Mode = VerifyMode.Checksums, Jobs = VerifyOptions.ForMigration(options.Into.Jobs, options.Source, options.Into.Connection),
                // With --roles, the owners, privileges and roles it carried are compared too.
                Roles = options.Roles, RoleRenames = options.RoleRenames, PrivilegedAttributes = options.PrivilegedAttributes,
            },
            context.Reporter,
            cancellationToken);
        // A role the target had is reused unaltered, its attributes as they are (the roles step said how they
        // differ): listed and warned about, not a failure. Its memberships, owners and grants are compared all the same.
        var reused = result.SchemaDifferences.Where(d => d.Kind == "role" && d.Difference == DifferenceKind.Different).ToList();
        foreach (var d in reused)
        {
            context.Reporter.Log(Progress.LogLevel.Warning, $"role {d.Name} differs (reused unaltered): {d.TargetDefinition} on the target, {d.SourceDefinition} on the source.");
        }

        // A membership in a predefined role the login role could not grant: the roles step named it, grants.sql lists it.
        var ungranted = result.SchemaDifferences.Where(d => d.Kind == "membership" && d.Difference == DifferenceKind.MissingOnTarget && d.Name.Contains(" in pg_", StringComparison.Ordinal)).ToList();
        foreach (var d in ungranted)
        {
            context.Reporter.Log(Progress.LogLevel.Warning, $"membership {d.Name} missing on the target: the roles step could not grant it (the cutover summary's grants.sql lists it).");
        }

        result = result with { SchemaDifferences = [.. result.SchemaDifferences.Except(reused).Except(ungranted)] };
        if (reused.Count > 0)
        {
            context.Record.Tables.Add(new ReportTable("Roles reused unaltered", ["role", "source", "target"], reused.Select(d => (IReadOnlyList<string>)[d.Name, d.SourceDefinition ?? "", d.TargetDefinition ?? ""]).ToList()));
        }

        if (result.ChosenDifferences.Count > 0 || ungranted.Count > 0)
        {
            context.Record.Tables.Add(new ReportTable("Differences --roles chose or could not avoid", ["kind", "name", "source", "target", "why"],
                [
                    .. result.ChosenDifferences.Select(d => (IReadOnlyList<string>)[d.Kind, d.Name, d.SourceDefinition ?? "", d.TargetDefinition ?? "", d.Reason]),
                    .. ungranted.Select(d => (IReadOnlyList<string>)[d.Kind, d.Name, d.SourceDefinition ?? "", d.TargetDefinition ?? "", "the login role may not grant it: grants.sql lists it"]),
                ]));
        }

        foreach (var table in Tables(result))
        {
            context.Record.Tables.Add(table);
        }

        context.Record.Set(TablesCompared, result.Tables.Count);
        context.Record.Set(Differences, result.HasDifferences);
        context.Record.Summary = result.HasDifferences
            ? result.Brief()
            : $"{result.Tables.Count} tables identical (rows and checksums), schema identical{(result.RolesCompared ? ", owners, privileges and roles identical" : "")}";
        if (result.HasDifferences)
        {
            throw new PgRelocateException($"Verification found differences: {context.Record.Summary}. 'pgrelocate info {context.Journal.Id}' lists them; run 'pgrelocate verify' to see them again.", ExitCode.Differences);
        }
    }

    /// <summary>The verification as report tables: every table, then schema and row differences when there are any.</summary>
    public static IEnumerable<ReportTable> Tables(VerificationResult result)
    {
        yield return new ReportTable(
            "Verification",
            ["table", "source rows", "target rows", "checksums", "result"],
            result.Tables.Select(t => (IReadOnlyList<string>)
            [
                t.Name,
                t.SourceRows.ToString(CultureInfo.InvariantCulture),
                t.TargetRows.ToString(CultureInfo.InvariantCulture),
                t.SourceDigest is null ? "counts only" : t.SourceDigest == t.TargetDigest ? "match" : "differ",
                t.Equal ? "identical" : t.Note ?? "differs",
            ]).ToList(),
            $"{result.Mode.ToString().ToLowerInvariant()} mode, {result.ElapsedSeconds:0.0}s");
        if (result.SchemaDifferences.Count > 0)
        {
            yield return new ReportTable(
                "Schema differences",
                ["kind", "name", "difference", "source", "target"],
                result.SchemaDifferences.Select(d => (IReadOnlyList<string>)[d.Kind, d.Name, d.Difference.ToString(), d.SourceDefinition ?? "", d.TargetDefinition ?? ""]).ToList());
        }

        var rows = result.Tables.SelectMany(t => t.Rows.Select(r => (t.Name, r))).ToList();
        if (rows.Count > 0)
        {
            yield return new ReportTable(
                "Differing rows",
                ["table", "key", "difference", "columns"],
                rows.Select(x => (IReadOnlyList<string>)
                [
                    x.Name,
                    string.Join(", ", x.r.Key.Select(k => $"{k.Key}={k.Value}")),
                    x.r.Difference.ToString(),
                    x.r.Columns is null ? "" : string.Join("; ", x.r.Columns.Select(c => $"{c.Column}: {c.Source} → {c.Target}")),
                ]).ToList());
        }
    }
}

using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// What is left for the people doing the cutover: the new DATABASE_URL, the applications to repoint, and the
/// steps no tool can take for them.
/// </summary>
public sealed class CutoverStep : IMigrationStep
{
    public const string StepName = "cutover summary";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        context.Record.Outputs["databaseUrl"] = options.Into.Connection.ToUrl(showPassword: false);

        // The applications seen before the source was made read-only (its step ended their sessions), else now.
        var seen = context.Journal.Steps.SelectMany(s => s.Tables).FirstOrDefault(t => t.Title == "Applications connected to the source");
        if (seen is null)
        {
            await using var conn = await Db.OpenAsync(options.Source, "source", cancellationToken);
            seen = Steps.ReadOnlySourceStep.ApplicationsTable(await ConnectedApplications.ReadAsync(conn, cancellationToken));
        }

        context.Record.Tables.Add(seen with { Title = "Applications to repoint" });
        var todo = new List<IReadOnlyList<string>>
        {
            new[] { "Set DATABASE_URL of every application above to the new database (pgrelocate prints it with --show-secrets)." },
            new[] { "Recreate roles and grants the applications need on the target: roles are not migrated." },
            new[] { "Reapply the settings the settings step lists, if not applied with --apply-settings." },
            new[] { options.ReadOnlySource && options.KeepReadOnly ? "The source stays read-only: retire it once the applications use the target." : "Stop writes to the source before switching, or writes made after the dump are lost." },
            new[] { "Take the applications out of maintenance mode and watch their error rates." },
        };
        context.Record.Tables.Add(new ReportTable("Left to do by hand", ["step"], todo));
        context.Record.Summary = $"target ready at {options.Into.Connection.Display}; {seen.Rows.Count} application group{(seen.Rows.Count == 1 ? "" : "s")} to repoint";
    }
}

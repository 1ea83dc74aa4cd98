using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// With --roles, once every check passed and before anything is restored: the roles the source database uses,
/// created on the target where it lacks them, with their memberships (<see cref="TargetRoles"/>). Safe to repeat:
/// a role made by an interrupted run is found and reused.
/// </summary>
public sealed class RolesStep : IMigrationStep
{
    public const string StepName = "roles";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Roles ? null : "roles are not migrated (no --roles)";

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        List<RoleOutcome> outcomes;
        await using (var source = await Db.OpenAsync(options.Source, "source", cancellationToken))
        await using (var target = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken))
        {
            outcomes = await TargetRoles.CreateAsync(source, target, options.RoleRenames, cancellationToken);
        }

        context.Record.Tables.Add(new ReportTable("Roles", ["role", "action", "note"], outcomes.Select(o => (IReadOnlyList<string>)[o.Role, o.Action, o.Note]).ToList()) { Note = "The database uses no role but the login role." });
        foreach (var o in outcomes.Where(o => o.Action != "created" || o.Note.Length > 0 && !o.Note.StartsWith("with ", StringComparison.Ordinal)))
        {
            context.Reporter.Log(Progress.LogLevel.Warning, $"role {o.Role} {o.Action}: {o.Note}.");
        }

        var created = outcomes.Count(o => o.Action == "created");
        var reused = outcomes.Count(o => o.Action.StartsWith("reused", StringComparison.Ordinal));
        context.Record.Summary = $"{created} created, {reused} reused{(outcomes.Any(o => o.Action == "reused, differs") ? " (some differ: see the report)" : "")}"
            + (InstanceJournal.ParentOf(context.Journal) is { } parent ? $"; the roles step of migration {parent} created them for every database" : "");
    }
}

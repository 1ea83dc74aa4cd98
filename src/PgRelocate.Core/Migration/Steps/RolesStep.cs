using PgRelocate.Catalog;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// With --roles, once every check passed and before anything is restored or copied (staged, --direct and
/// --online alike): the roles the source database uses, created on the target where it lacks them, with their
/// memberships (<see cref="TargetRoles"/>). Safe to repeat: a role made by an interrupted run is found and reused.
/// </summary>
internal sealed class RolesStep : IMigrationStep
{
    public const string StepName = "roles";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Roles ? null : "roles are not migrated (no --roles)";

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var outcomes = await TargetRoles.CreateAsync(options.Source, options.Into.Connection, options.RoleRenames, options.PrivilegedAttributes, cancellationToken);
        context.Record.Tables.Add(new ReportTable("Roles", ["role", "action", "note"], outcomes.Select(o => (IReadOnlyList<string>)[o.Role, o.Action, o.Note]).ToList()) { Note = outcomes.Count == 0 ? "The database uses no role but the login role." : null });
        foreach (var o in outcomes.Where(o => o.Notable))
        {
            context.Reporter.Log(Progress.LogLevel.Warning, o.ToString());
        }

        context.Record.Summary = RoleOutcome.Summary(outcomes)
            + (InstanceJournal.ParentOf(context.Journal) is { } parent ? $"; the roles step of migration {parent} created them for every database" : "");
    }
}

using PgRelocate.Catalog;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// With --roles, after the restore or the copy (online: after the snapshot copy, before the follow): the source's
/// owners, privileges and default privileges given to the target's objects (<see cref="TargetAccess"/>), in one
/// transaction, so a rerun starts from the restore's state or finds it done the same way.
/// </summary>
internal sealed class OwnersStep : IMigrationStep
{
    public const string StepName = "owners and grants";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Roles ? null : "roles are not migrated (no --roles)";

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var applied = await TargetAccess.ApplyAsync(options.Source, options.Into.Connection, options.RoleRenames, cancellationToken);
        context.Record.Summary = applied.ToString();
    }
}

using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// With --roles, after the restore or the copy: the source's owners, privileges and default privileges given to
/// the target's objects (<see cref="TargetAccess"/>), in one transaction, so a rerun starts from the restore's
/// state or finds it done the same way.
/// </summary>
public sealed class OwnersStep : IMigrationStep
{
    public const string StepName = "owners and grants";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Roles ? null : "roles are not migrated (no --roles)";

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        await using var source = await Db.OpenAsync(options.Source, "source", cancellationToken);
        await using var target = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken);
        var applied = await TargetAccess.ApplyAsync(source, target, options.RoleRenames, cancellationToken);
        context.Record.Summary = $"{applied.Owners} objects given their owners, {applied.Grants} grants, {applied.Defaults} default privileges";
    }
}

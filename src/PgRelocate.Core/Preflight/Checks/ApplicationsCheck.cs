using PgRelocate.Catalog;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// The applications connected to the source right now, grouped by name, user and client address: the
/// list of systems to stop before the dump and to repoint at the target at cutover.
/// </summary>
public sealed class ApplicationsCheck : IPreflightCheck
{
    public string Name => "connected applications";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var groups = (await ConnectedApplications.ReadAsync(context.Source, cancellationToken))
            .Select(a => $"{a.Application}: user {a.User} from {a.ClientAddress}, {a.Sessions} session{(a.Sessions == 1 ? "" : "s")}")
            .ToList();
        var next = "Stop their writes before the dump, and repoint each at the target at cutover." +
                   (groups.Any(g => g.Contains("address hidden", StringComparison.Ordinal)) ? " Grant pg_read_all_stats to see hidden addresses." : "");
        return [Findings.WarnIfAny(Name, groups, "No other sessions on the source database.", "groups of sessions connected", next)];
    }
}

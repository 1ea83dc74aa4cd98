using PgRelocate.Catalog;
using PgRelocate.Errors;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// The applications connected to the source right now, grouped by name, user and client address: the
/// list of systems to stop before the dump and to repoint at the target at cutover. Online
/// (<paramref name="online"/>), they keep writing while the migration follows them: only the cutover stops them.
/// </summary>
internal sealed class ApplicationsCheck(bool online = false) : IPreflightCheck
{
    public string Name => "connected applications";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var groups = (await context.Once(nameof(ConnectedApplications), () => ConnectedApplications.ReadAsync(context.Source, cancellationToken)))
            .Select(a => $"{a.Application}: user {a.User} from {a.ClientAddress}, {Sentences.Counted(a.Sessions, "session")}")
            .ToList();
        var next = (online
                ? "Leave them running while the migration follows their writes; at the cutover their writes are refused for seconds, then repoint each at the target."
                : "Stop their writes before the dump, and repoint each at the target at cutover.") +
                   (groups.Any(g => g.Contains("address hidden", StringComparison.Ordinal)) ? " Grant pg_read_all_stats to see hidden addresses." : "");
        return [Findings.WarnIfAny(Name, groups, "No other sessions on the source database.", "groups of sessions connected", next)];
    }
}

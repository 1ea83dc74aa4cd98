namespace PgRelocate.Preflight.Checks;

/// <summary>
/// The applications connected to the source right now, grouped by name, user and client address: the
/// list of systems to stop before the dump and to repoint at the target at cutover.
/// </summary>
public sealed class ApplicationsCheck : IPreflightCheck
{
    public string Name => "connected applications";

    // client_addr is null for Unix-socket sessions (client_port -1) and, without pg_read_all_stats, for
    // other users' sessions: say which, instead of showing nothing.
    private const string Sql = """
        SELECT coalesce(nullif(application_name, ''), '(no name)'),
               coalesce(usename, '?'),
               CASE WHEN client_addr IS NOT NULL THEN host(client_addr)
                    WHEN client_port = -1 THEN 'local socket'
                    ELSE 'address hidden' END,
               count(*)
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        GROUP BY 1, 2, 3
        ORDER BY 4 DESC, 1, 2, 3
        """;

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var groups = await Query.ListAsync(context.Source, Sql,
            r => $"{r.GetString(0)}: user {r.GetString(1)} from {r.GetString(2)}, {r.GetInt64(3)} session{(r.GetInt64(3) == 1 ? "" : "s")}", cancellationToken);
        var next = "Stop their writes before the dump, and repoint each at the target at cutover." +
                   (groups.Any(g => g.Contains("address hidden", StringComparison.Ordinal)) ? " Grant pg_read_all_stats to see hidden addresses." : "");
        return [Findings.WarnIfAny(Name, groups, "No other sessions on the source database.", "groups of sessions connected", next)];
    }
}

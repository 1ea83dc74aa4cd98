using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// pg_dump reads every user table and sequence as the source's login role and stops at the first it may
/// not read ("permission denied"), after the dump has started. Found here instead, with the GRANTs to run.
/// </summary>
public sealed class UnreadableTablesCheck : IPreflightCheck
{
    public string Name => "readable tables";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var unreadable = await UserTables.UnreadableAsync(context.Source, cancellationToken);
        if (unreadable.Count == 0)
        {
            return [CheckResult.Ok(Name, $"{context.SourceServer.User} may read every table and sequence.")];
        }

        var owner = unreadable.Count == 1 ? "its owner" : "their owners";
        return [CheckResult.Block(Name, $"{context.SourceServer.User} may not read {unreadable.Count} tables or sequences: {Findings.Names(unreadable.Select(u => u.ToString()).ToList())}; the dump would stop there.",
            $"Run as {owner} (or a superuser): {unreadable[0].GrantFor(context.SourceServer.User)}{(unreadable.Count > 1 ? " and the same for the others (listed)" : "")}, or dump as a role that may read them.") with
        {
            Details = unreadable.Select(u => u.GrantFor(context.SourceServer.User)).ToList(),
        }];
    }
}

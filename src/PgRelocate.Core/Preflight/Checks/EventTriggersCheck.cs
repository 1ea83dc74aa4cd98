using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>Event triggers need a superuser to create; on a managed target their restore fails.</summary>
internal sealed class EventTriggersCheck : IPreflightCheck
{
    public string Name => "event triggers";

    private const string Sql = "SELECT evtname || ' (on ' || evtevent || ')' FROM pg_event_trigger ORDER BY 1";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var triggers = await Db.ListAsync(context.Source, Sql, r => r.GetString(0), cancellationToken);
        return [Findings.WarnIfAny(Name, triggers, "None.", "event triggers",
            "Only a superuser can create them: expect their restore to fail on a managed target, and recreate them there if the provider allows it.")];
    }
}

using PgRelocate.Connections;
using PgRelocate.Settings;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// Compares the source's and the target's settings and lists the behavioural differences to reapply; with
/// --apply-settings, sets them on the target database (ALTER DATABASE ... SET, as its owner).
/// </summary>
internal sealed class SettingsStep : IMigrationStep
{
    public const string StepName = "settings";

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var (source, target) = await BothSides.ReadAsync(options.Source, options.Into.Connection, (info, role) => ReadAsync(info, role, cancellationToken));

        var diff = SettingsDiff.Compare(source, target);
        var behaviour = diff.Behaviour.ToList();
        context.Record.Tables.Add(new ReportTable(
            "Settings that differ",
            ["setting", "group", "source", "target", "owner may set"],
            diff.Differences.Select(d => (IReadOnlyList<string>)[d.Name, d.Group.ToString().ToLowerInvariant(), d.Source, d.Target, d.OwnerMaySet ? "yes" : "no"]).ToList(),
            diff.Differences.Count == 0 ? "no differences" : "behaviour settings change what applications see; infrastructure settings are sized by the plan and expected to differ"));

        if (options.ApplySettings && behaviour.Count > 0)
        {
            var applied = await SettingsApplier.ApplyAsync(options.Into.Connection, source, options.Into.Confirm!, cancellationToken);
            context.Record.Summary = $"{behaviour.Count} behavioural differences; {applied.Count} applied to {options.Into.Connection.Database}";
        }
        else
        {
            var statements = diff.Statements(options.Into.Connection.Database);
            if (statements.Count > 0)
            {
                context.Record.Tables.Add(new ReportTable("Statements to reapply the source's settings", ["statement"], statements.Select(s => (IReadOnlyList<string>)[s]).ToList()));
            }

            context.Record.Summary = behaviour.Count == 0
                ? "no behavioural differences"
                : $"{behaviour.Count} behavioural differences to reapply (--apply-settings does it)";
        }
    }

    /// <summary>pg_settings of one side, in a session that reads built-in types only (the settings come as COPY text).</summary>
    private static async Task<SettingsSnapshot> ReadAsync(PgConnectionInfo info, string role, CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(info, role, SessionOptions.BuiltInTypes, cancellationToken);
        return await SettingsSnapshot.ReadAsync(conn, info, cancellationToken);
    }
}

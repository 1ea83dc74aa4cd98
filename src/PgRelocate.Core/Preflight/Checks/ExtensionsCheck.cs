using PgRelocate.Catalog;
using PgRelocate.Targets;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Every extension installed on the source must be installable on the target, or the restore fails at its
/// CREATE EXTENSION and every object that uses it. Provider-only extensions are named and left behind. With a
/// target, the verdict and its words are <see cref="TargetPreparation"/>'s, so `check` and a restore agree.
/// </summary>
internal sealed class ExtensionsCheck : IPreflightCheck
{
    public string Name => TargetPreparation.ExtensionsFinding;

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        // plpgsql is in every database already.
        var onSource = await Extensions.InstalledAsync(context.Source, cancellationToken);
        var installed = onSource
            .Where(e => e.Name != "plpgsql").Select(e => (e.Name, e.Version)).ToList();
        if (installed.Count == 0)
        {
            return [CheckResult.Ok(Name, "No extensions besides plpgsql on the source.")];
        }

        var providerOnly = installed.Where(e => ProviderExtensions.ProviderOf(e.Name) is not null).ToList();
        var portable = installed.Except(providerOnly).ToList();
        var details = providerOnly.Select(e => $"{e.Name} {e.Version}: only on {ProviderExtensions.ProviderOf(e.Name)}, leave it behind").ToList();

        if (!context.HasTarget)
        {
            details.InsertRange(0, portable.Select(e => $"{e.Name} {e.Version}"));
            var list = Findings.Names(installed.Select(e => $"{e.Name} {e.Version}").ToList());
            return [providerOnly.Count > 0
                ? CheckResult.Warn(Name, $"Installed on the source: {list}; provider-only: {Findings.Names(providerOnly.Select(e => e.Name).ToList())}.",
                    "Leave the provider-only extensions behind (the restore skips them), and pass --target to check the others are available there.") with { Details = details }
                : CheckResult.Ok(Name, $"Installed on the source: {list}.", "Pass --target to check they are available on the target.") with { Details = details }];
        }

        // Whether the target can give the login role what the source has: asked as a restore asks it, so the
        // row and a restore's refusal are the same words.
        var inspected = await TargetPreparation.InspectAsync(context.Target!, context.TargetInfo!, new TargetRequirements
        {
            Extensions = portable.Select(e => e.Name).ToList(),
            ExtensionSchemas = onSource.Where(e => portable.Any(p => p.Name == e.Name)).Select(e => (e.Name, e.Schema)).ToList(),
            OwnSessions = context.OwnSessions,
            DatabaseToCreate = context.TargetDatabaseToCreate,
        }, cancellationToken);
        var offers = await Extensions.OffersAsync(context.Target!, cancellationToken);
        foreach (var (name, version) in portable)
        {
            details.Add(!offers.TryGetValue(name, out var a) ? $"{name} {version}: missing on the target"
                : a.Installed ? $"{name} {version}: installed on the target ({a.InstalledVersion} in schema {a.Schema})"
                : !a.CanCreate ? $"{name} {version}: available on the target ({a.DefaultVersion}) but only a superuser may create it"
                : $"{name} {version}: available on the target ({a.DefaultVersion}{(a.Trusted ? ", trusted" : "")}), the login role may create it");
        }

        if (inspected.Findings.FirstOrDefault(f => f.Check == TargetPreparation.ExtensionsFinding && f.Status == CheckStatus.Block) is { } block)
        {
            // Refused again as the target is prepared: --allow cannot lift it.
            return [block with { Details = details, Overridable = false }];
        }

        var found = $"{installed.Count} installed on the source ({Findings.Names(installed.Select(e => e.Name).ToList())})";
        if (inspected.Findings.FirstOrDefault(f => f.Check == TargetPreparation.ExtensionSchemasFinding) is { } moved)
        {
            return [moved with { Check = Name, Found = $"{found}. {moved.Found}", Details = [.. details, .. moved.Details] }];
        }

        if (providerOnly.Count > 0)
        {
            return [CheckResult.Warn(Name, $"{found}; provider-only, to leave behind: {string.Join(", ", providerOnly.Select(e => e.Name))}.",
                "Leave the provider-only extensions behind: nothing of yours depends on them.") with { Details = details }];
        }

        return [CheckResult.Ok(Name, $"{found}; all available on the target.") with { Details = details }];
    }
}

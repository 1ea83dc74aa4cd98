using PgRelocate.Catalog;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Every extension installed on the source must be installable on the target, or the restore fails at its
/// CREATE EXTENSION and every object that uses it. Provider-only extensions are named and left behind.
/// </summary>
public sealed class ExtensionsCheck : IPreflightCheck
{
    public string Name => "extensions";

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

        var offers = await Extensions.OffersAsync(context.Target!, cancellationToken);
        var missing = new List<string>();
        var needSuperuser = new List<string>();
        foreach (var (name, version) in portable)
        {
            if (!offers.TryGetValue(name, out var a))
            {
                missing.Add(name);
                details.Add($"{name} {version}: NOT AVAILABLE on the target");
            }
            else if (a.Installed)
            {
                details.Add($"{name} {version}: installed on the target ({a.InstalledVersion} in schema {a.Schema})");
            }
            else if (!a.CanCreate)
            {
                needSuperuser.Add(name);
                details.Add($"{name} {version}: available on the target ({a.DefaultVersion}) but only a superuser may create it");
            }
            else
            {
                details.Add($"{name} {version}: available on the target ({a.DefaultVersion}{(a.Trusted ? ", trusted" : "")}), the login role may create it");
            }
        }

        var found = $"{installed.Count} installed on the source ({Findings.Names(installed.Select(e => e.Name).ToList())})";
        if (missing.Count > 0 || needSuperuser.Count > 0)
        {
            var parts = new List<string>();
            var next = new List<string>();
            if (missing.Count > 0)
            {
                parts.Add($"missing on the target: {string.Join(", ", missing)}");
                next.Add($"ask the target's provider for {string.Join(", ", missing)}, or drop {(missing.Count == 1 ? "it" : "them")} on the source if unused");
            }

            if (needSuperuser.Count > 0)
            {
                parts.Add($"only a superuser may create on the target: {string.Join(", ", needSuperuser)}");
                next.Add($"ask the target's provider to run CREATE EXTENSION {string.Join(", ", needSuperuser)} in database {context.TargetServer!.Database} ({context.TargetServer.User} is not a superuser)");
            }

            var sentence = string.Join("; ", next);
            return [CheckResult.Block(Name, $"{found}; {string.Join("; ", parts)}.", char.ToUpperInvariant(sentence[0]) + sentence[1..] + ", before migrating.") with { Details = details }];
        }

        var moved = Extensions.InOtherSchemas(
            onSource.Select(e => (e.Name, e.Schema)),
            offers.Values.Where(o => o.Installed && o.Schema is not null).Select(o => new ExtensionInfo(o.Name, o.InstalledVersion!, o.Schema!)));
        if (moved.Count > 0)
        {
            return [CheckResult.Warn(Name, $"{found}. {Extensions.OtherSchemasWarning(moved)}", "Go on only if nothing uses them.") with { Details = [.. details, .. moved] }];
        }

        if (providerOnly.Count > 0)
        {
            return [CheckResult.Warn(Name, $"{found}; provider-only, to leave behind: {string.Join(", ", providerOnly.Select(e => e.Name))}.",
                "Leave the provider-only extensions behind: nothing of yours depends on them.") with { Details = details }];
        }

        return [CheckResult.Ok(Name, $"{found}; all available on the target.") with { Details = details }];
    }
}

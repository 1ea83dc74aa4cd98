namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Every extension installed on the source must be installable on the target, or the restore fails at its
/// CREATE EXTENSION and every object that uses it. Provider-only extensions are named and left behind.
/// </summary>
public sealed class ExtensionsCheck : IPreflightCheck
{
    public string Name => "extensions";

    // plpgsql is in every database already.
    private const string InstalledSql = "SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1";

    private const string AvailableSql = "SELECT name, default_version, installed_version FROM pg_available_extensions";

    // trusted (PostgreSQL 13+): a database owner may create it without being a superuser.
    private const string TrustedSql = "SELECT name, bool_or(trusted OR NOT superuser) FROM pg_available_extension_versions GROUP BY name";

    private sealed record Available(string DefaultVersion, string? InstalledVersion, bool Trusted);

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var installed = await Query.ListAsync(context.Source, InstalledSql, r => (Name: r.GetString(0), Version: r.GetString(1)), cancellationToken);
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
            var list = Query.Names(installed.Select(e => $"{e.Name} {e.Version}").ToList());
            return [providerOnly.Count > 0
                ? CheckResult.Warn(Name, $"Installed on the source: {list}; provider-only: {Query.Names(providerOnly.Select(e => e.Name).ToList())}.",
                    "Leave the provider-only extensions behind (the restore skips them), and pass --target to check the others are available there.") with { Details = details }
                : CheckResult.Ok(Name, $"Installed on the source: {list}.", "Pass --target to check they are available on the target.") with { Details = details }];
        }

        var available = await AvailableOnTargetAsync(context, cancellationToken);
        var missing = new List<string>();
        var needSuperuser = new List<string>();
        foreach (var (name, version) in portable)
        {
            if (!available.TryGetValue(name, out var a))
            {
                missing.Add(name);
                details.Add($"{name} {version}: NOT AVAILABLE on the target");
            }
            else if (a.InstalledVersion is not null)
            {
                details.Add($"{name} {version}: installed on the target ({a.InstalledVersion})");
            }
            else if (!a.Trusted && !context.TargetServer!.IsSuperuser)
            {
                needSuperuser.Add(name);
                details.Add($"{name} {version}: available on the target ({a.DefaultVersion}) but only a superuser may create it");
            }
            else
            {
                details.Add($"{name} {version}: available on the target ({a.DefaultVersion})");
            }
        }

        var found = $"{installed.Count} installed on the source ({Query.Names(installed.Select(e => e.Name).ToList())})";
        if (missing.Count > 0)
        {
            return [CheckResult.Block(Name, $"{found}; missing on the target: {string.Join(", ", missing)}.",
                $"Ask the target's provider for {string.Join(", ", missing)}, or drop {(missing.Count == 1 ? "it" : "them")} on the source if unused, before migrating.") with { Details = details }];
        }

        if (needSuperuser.Count > 0 || providerOnly.Count > 0)
        {
            var parts = new List<string>();
            var next = new List<string>();
            if (needSuperuser.Count > 0)
            {
                parts.Add($"need a superuser on the target: {string.Join(", ", needSuperuser)}");
                next.Add($"have the provider create {string.Join(", ", needSuperuser)} in the target database before the restore");
            }

            if (providerOnly.Count > 0)
            {
                parts.Add($"provider-only, to leave behind: {string.Join(", ", providerOnly.Select(e => e.Name))}");
                next.Add("leave the provider-only extensions behind: nothing of yours depends on them");
            }

            var sentence = string.Join("; ", next);
            return [CheckResult.Warn(Name, $"{found}; {string.Join("; ", parts)}.", char.ToUpperInvariant(sentence[0]) + sentence[1..] + ".") with { Details = details }];
        }

        return [CheckResult.Ok(Name, $"{found}; all available on the target.") with { Details = details }];
    }

    private static async Task<Dictionary<string, Available>> AvailableOnTargetAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var trusted = context.TargetServer!.Major >= 13
            ? (await Query.ListAsync(context.Target!, TrustedSql, r => (Name: r.GetString(0), Trusted: r.GetBoolean(1)), cancellationToken))
                .ToDictionary(t => t.Name, t => t.Trusted, StringComparer.Ordinal)
            : [];
        var rows = await Query.ListAsync(context.Target!, AvailableSql, r => (Name: r.GetString(0), Default: r.NullableString(1) ?? "", Installed: r.NullableString(2)), cancellationToken);
        return rows.ToDictionary(r => r.Name, r => new Available(r.Default, r.Installed, trusted.GetValueOrDefault(r.Name)), StringComparer.Ordinal);
    }
}

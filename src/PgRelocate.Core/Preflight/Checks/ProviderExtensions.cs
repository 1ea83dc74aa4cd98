namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Extensions a managed provider installs for its own tooling. They exist only there, nothing of the
/// application depends on them, and the target cannot install them: leave them behind.
/// </summary>
internal static class ProviderExtensions
{
    /// <summary>The provider that ships <paramref name="extension"/>, or null for an ordinary extension.</summary>
    public static string? ProviderOf(string extension) => extension switch
    {
        "azure" or "pgaadauth" => "Azure Database for PostgreSQL",
        "rds_tools" or "rdsutils" => "AWS RDS",
        "aiven_extras" => "Aiven",
        _ when extension.StartsWith("google_", StringComparison.Ordinal) || extension.StartsWith("cloudsql", StringComparison.Ordinal) => "Google Cloud SQL",
        _ => null,
    };
}

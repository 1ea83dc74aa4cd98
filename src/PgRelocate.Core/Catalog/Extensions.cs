using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// One extension a server offers, as the login role sees it: installed (in which schema, owned by whom) or
/// not, and whether this role may create it. Trusted extensions (PostgreSQL 13+) need CREATE on the database,
/// which its owner has; the others need a superuser.
/// </summary>
internal sealed record ExtensionOffer(string Name, string? DefaultVersion, string? InstalledVersion, string? Schema, string? Owner, bool Trusted, bool CanCreate)
{
    public bool Installed => InstalledVersion is not null;

    /// <summary>A restore that needs it will find it or make it.</summary>
    public bool Usable => Installed || CanCreate;
}

/// <summary>What a database has installed and what its server offers, for the manifest, the checks and the restore.</summary>
internal static class Extensions
{
    /// <summary>The extensions installed in the database, plpgsql included.</summary>
    public static Task<List<ExtensionInfo>> InstalledAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, "SELECT e.extname::text, e.extversion, n.nspname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace ORDER BY 1",
            r => new ExtensionInfo(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken);

    /// <summary>Every extension the server offers (pg_available_extensions), by name.</summary>
    public static async Task<IReadOnlyDictionary<string, ExtensionOffer>> OffersAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var rows = await Db.ListAsync(conn, CatalogSql.Load("CreatableExtensions.sql"), r => new ExtensionOffer(
            r.GetString(0), r.NullableString(1), r.NullableString(2), r.NullableString(3), r.NullableString(4), r.GetBoolean(6), r.GetBoolean(7)), cancellationToken);
        return rows.ToDictionary(o => o.Name, StringComparer.Ordinal);
    }

    /// <summary>
    /// Of <paramref name="needed"/>, those the login role can neither find installed nor create, with the
    /// reason: not offered by the server at all, or only a superuser may create it.
    /// </summary>
    public static async Task<IReadOnlyList<(string Name, bool Offered)>> UnusableAsync(NpgsqlConnection conn, IEnumerable<string> needed, CancellationToken cancellationToken)
    {
        var offers = await OffersAsync(conn, cancellationToken);
        return needed.Where(n => n != "plpgsql").Distinct(StringComparer.Ordinal)
            .Where(n => !offers.TryGetValue(n, out var o) || !o.Usable)
            .Select(n => (n, offers.ContainsKey(n)))
            .ToList();
    }

    /// <summary>
    /// The extensions installed on the target in another schema than the source has them in, one line each
    /// ("pg_trgm: in public on the source, in heroku_ext on the target"). pg_dump names an extension's objects
    /// by their schema (<c>public.gin_trgm_ops</c>) and its <c>CREATE EXTENSION IF NOT EXISTS</c> does not move
    /// the target's copy, so the objects that use such an extension fail to restore.
    /// </summary>
    public static IReadOnlyList<string> InOtherSchemas(IEnumerable<(string Name, string Schema)> source, IEnumerable<ExtensionInfo> target)
    {
        var onTarget = target.ToDictionary(e => e.Name, e => e.Schema, StringComparer.Ordinal);
        return source.Where(e => e.Name != "plpgsql" && onTarget.TryGetValue(e.Name, out var schema) && schema != e.Schema)
            .Select(e => $"{e.Name}: in {e.Schema} on the source, in {onTarget[e.Name]} on the target")
            .ToList();
    }

    /// <summary>The warning for <see cref="InOtherSchemas"/>'s lines: what fails, and what to do before going on.</summary>
    public static string OtherSchemasWarning(IReadOnlyList<string> moved) =>
        $"Extensions the target has in another schema than the source ({string.Join("; ", moved)}): the objects that name them by their source schema (indexes with their operator classes, columns of their types, calls of their functions) will fail to restore. "
        + "Ask the provider to install them in the source's schema, or move them on the source (ALTER EXTENSION ... SET SCHEMA) and dump again.";
}

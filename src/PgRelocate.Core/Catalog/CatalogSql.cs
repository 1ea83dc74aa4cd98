using System.Collections.Concurrent;
using System.Reflection;
using System.Text.RegularExpressions;

namespace PgRelocate.Catalog;

/// <summary>
/// The catalog vocabulary's SQL: .sql files beside this code, embedded in the assembly. A file may name
/// another with <c>{{name}}</c> (the file <c>Name.sql</c> with underscores for case changes: user_tables is
/// UserTables.sql): "a user table" is written once, in UserTables.sql, and every query that means one says
/// <c>c.oid IN ({{user_tables}})</c>. Preflight, restore, copy and verify read through these, so they cannot
/// disagree on what a user table, a user object or an extension's schema is.
/// </summary>
public static partial class CatalogSql
{
    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);

    /// <summary>The schemas holding the database's own objects (a subquery of pg_namespace oids).</summary>
    public static string UserSchemas => Load("UserSchemas.sql");

    /// <summary>The tables pg_dump dumps the rows of (a subquery of pg_class oids).</summary>
    public static string UserTables => Load("UserTables.sql");

    /// <summary>The schemas of extensions and of the provider (a subquery of pg_namespace oids).</summary>
    public static string ExtensionSchemas => Load("ExtensionSchemas.sql");

    /// <summary>A condition: the schema <paramref name="oid"/> is a user schema.</summary>
    public static string IsUserSchema(string oid) => $"{oid} IN ({UserSchemas})";

    /// <summary>A condition: the relation <paramref name="oid"/> is a user table.</summary>
    public static string IsUserTable(string oid) => $"{oid} IN ({UserTables})";

    /// <summary>A condition: the object <paramref name="oid"/> of system catalog <paramref name="catalog"/> (pg_class, pg_proc, ...) is not a member of an extension.</summary>
    public static string NotExtensionMember(string catalog, string oid) =>
        $"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e')";

    /// <summary>A query of this folder, its <c>{{fragments}}</c> expanded and its comment lines removed.</summary>
    public static string Load(string fileName) => Cache.GetOrAdd(fileName, name => Expand(Read(name)));

    /// <summary>Expands the <c>{{fragments}}</c> in SQL written elsewhere.</summary>
    public static string Expand(string sql) =>
        Fragment().Replace(sql, m => Load(ToFileName(m.Groups[1].Value)));

    private static string ToFileName(string snake) =>
        string.Concat(snake.Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..])) + ".sql";

    private static string Read(string fileName)
    {
        var name = "PgRelocate.Catalog." + fileName;
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal));
        return string.Join('\n', lines).Trim();
    }

    [GeneratedRegex(@"\{\{([a-z_]+)\}\}")]
    private static partial Regex Fragment();
}

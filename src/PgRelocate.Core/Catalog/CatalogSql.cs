using System.Collections.Concurrent;
using System.Reflection;
using System.Text.RegularExpressions;

namespace PgRelocate.Catalog;

/// <summary>
/// The one loader of the engine's SQL: the .sql files beside its code (any folder: <c>Catalog/</c>, <c>Copy/</c>,
/// <c>Preflight/Checks/</c>, ...), embedded in the assembly. Whole-line <c>--</c> comments are
/// removed and <c>{{fragments}}</c> expanded: a file may name a fragment of this folder with <c>{{name}}</c> (the
/// file <c>Name.sql</c>, underscores for case changes: user_tables is UserTables.sql). "A user table" is written
/// once, in UserTables.sql, and every query that means one says <c>c.oid IN ({{user_tables}})</c>; the other
/// fragments (user schemas, user relations, user functions, extension members, the user objects' list) work
/// the same way. So preflight, restore, copy, verify and the online path cannot disagree on what they mean.
/// </summary>
internal static partial class CatalogSql
{
    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);

    /// <summary>The schemas holding the database's own objects (a subquery of pg_namespace oids).</summary>
    public static string UserSchemas => Load("UserSchemas.sql");

    /// <summary>The tables pg_dump dumps the rows of (a subquery of pg_class oids).</summary>
    public static string UserTables => Load("UserTables.sql");

    /// <summary>The schemas of extensions and of the provider (a subquery of pg_namespace oids).</summary>
    public static string ExtensionSchemas => Load("ExtensionSchemas.sql");

    /// <summary>
    /// A query, its <c>{{fragments}}</c> expanded and its comment lines removed: a file of this folder by its
    /// name (<c>"UserObjects.sql"</c>), or of another folder by its path in the project
    /// (<c>"Online/SlotLag.sql"</c>).
    /// </summary>
    public static string Load(string path) => Cache.GetOrAdd(path, p => Expand(Read(p)));

    /// <summary>Expands the <c>{{fragments}}</c> in SQL written in code (a query too short for a file of its own).</summary>
    public static string Expand(string sql) =>
        Fragment().Replace(sql, m => Load(ToFileName(m.Groups[1].Value)));

    /// <summary>
    /// A file's SQL (see <see cref="Load"/>) with its placeholders filled in: for text the server takes no bind
    /// parameter for (an identifier in DDL, a value in a DO block or a SET), a file names a placeholder
    /// <c>@name</c> and its header says what code puts there (already quoted by <c>Db.Ident</c> or
    /// <c>Db.Literal</c>). One pass, so a value holding a placeholder's name is not filled in again; an
    /// <c>@name</c> not given is left as it is (a bind parameter).
    /// </summary>
    public static string Load(string path, IReadOnlyDictionary<string, string> placeholders) =>
        Placeholder().Replace(Load(path), m => placeholders.TryGetValue(m.Groups[1].Value, out var text) ? text : m.Value);

    /// <summary>The resource name of a .sql file: the project's root namespace, then its path with dots.</summary>
    internal static string ResourceName(string path) =>
        "PgRelocate." + (path.Contains('/', StringComparison.Ordinal) ? path : "Catalog/" + path).Replace('/', '.');

    private static string ToFileName(string snake) =>
        string.Concat(snake.Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..])) + ".sql";

    private static string Read(string path)
    {
        var name = ResourceName(path);
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal));
        return string.Join('\n', lines).Trim();
    }

    [GeneratedRegex(@"@([a-z_]+)\b")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"\{\{([a-z_]+)\}\}")]
    private static partial Regex Fragment();
}

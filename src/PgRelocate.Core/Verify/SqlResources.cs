using System.Reflection;
using PgRelocate.Catalog;

namespace PgRelocate.Verify;

/// <summary>
/// The catalog queries, kept as .sql files beside the code and embedded in the assembly. Their
/// <c>{{fragments}}</c> (<c>{{user_schemas}}</c>, ...) are expanded from the catalog vocabulary, so verify
/// means by a user schema or table what every other stage means.
/// </summary>
internal static class SqlResources
{
    public static string Load(string fileName)
    {
        var name = "PgRelocate.Verify." + fileName;
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return CatalogSql.Expand(reader.ReadToEnd());
    }
}

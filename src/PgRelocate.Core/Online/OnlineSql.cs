using System.Reflection;

namespace PgRelocate.Online;

/// <summary>The SQL files of this folder, embedded in the assembly.</summary>
internal static class OnlineSql
{
    public static readonly string PublishedTables = Load("PublishedTables.sql");
    public static readonly string NoIdentityTables = Load("NoIdentityTables.sql");
    public static readonly string UnpublishedTables = Load("UnpublishedTables.sql");
    public static readonly string TableConstraints = Load("TableConstraints.sql");
    public static readonly string SlotLag = Load("SlotLag.sql");
    public static readonly string ApplyRoutes = Load("ApplyRoutes.sql");
    public static readonly string ConfigurationTables = Load("ConfigurationTables.sql");
    public static readonly string RewrittenTables = Load("RewrittenTables.sql");
    public static readonly string UnsentWal = Load("UnsentWal.sql");

    private static string Load(string fileName)
    {
        var name = "PgRelocate.Online." + fileName;
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        // {{user_schemas}} and the like: the catalog's one definition of the user's schemas and tables.
        return Catalog.CatalogSql.Expand(reader.ReadToEnd());
    }
}

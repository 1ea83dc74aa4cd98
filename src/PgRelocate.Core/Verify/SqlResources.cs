using System.Reflection;

namespace PgRelocate.Verify;

/// <summary>The catalog queries, kept as .sql files beside the code and embedded in the assembly.</summary>
internal static class SqlResources
{
    public static string Load(string fileName)
    {
        var name = "PgRelocate.Verify." + fileName;
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

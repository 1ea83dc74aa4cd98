using System.Text.RegularExpressions;

namespace PgRelocate.Tests;

/// <summary>The rule of docs/architecture.md between the two folders of layer 5: Online builds on Migration, never the reverse.</summary>
public partial class ArchitectureTests
{
    [Fact]
    public void Should_Not_Name_Online_From_Migration()
    {
        // What "Online.X" may name: the folder's types and its sub-namespaces (not a property called Online).
        var online = Path.Combine(CoreRoot(), "Online");
        var names = Directory.GetFiles(online, "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => TypeDeclaration().Matches(CodeOnly(File.ReadAllText(f))).Select(m => m.Groups[1].Value))
            .Concat(Directory.GetDirectories(online, "*", SearchOption.AllDirectories).Select(Path.GetFileName).OfType<string>())
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("OnlinePhases", names);

        var naming = CoreFiles()
            .Where(f => f.Folder == "Migration")
            .Select(f => (Relative: Path.GetRelativePath(CoreRoot(), f.File).Replace('\\', '/'), Code: CodeOnly(File.ReadAllText(f.File))))
            .Where(f => f.Code.Contains("PgRelocate.Online", StringComparison.Ordinal)
                || QualifiedOnline().Matches(f.Code).Any(m => names.Contains(m.Groups[1].Value)))
            .Select(f => f.Relative)
            .ToList();
        Assert.True(naming.Count == 0, "Migration names Online (Online uses Migration, not the reverse): " + string.Join(", ", naming));
    }

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    /// <summary>"Online.X" not after a member access or inside a name: the namespace from within PgRelocate.</summary>
    [GeneratedRegex(@"(?<![\w.""])Online\.([A-Z]\w*)")]
    private static partial Regex QualifiedOnline();
}

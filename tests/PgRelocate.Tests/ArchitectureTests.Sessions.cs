using System.Text.RegularExpressions;

namespace PgRelocate.Tests;

/// <summary>The rules of docs/architecture.md about sessions and the size of a file.</summary>
public partial class ArchitectureTests
{
    [Fact]
    public void Should_Open_Every_Session_Through_Db()
    {
        // Connections/Db.cs applies libpq's TLS rules and puts a failure in words; a connection made elsewhere would skip both.
        var opening = CoreFiles()
            .Where(f => CodeOnly(File.ReadAllText(f.File)) is var code
                && (code.Contains("new NpgsqlConnection(", StringComparison.Ordinal)
                    || code.Contains("new LogicalReplicationConnection(", StringComparison.Ordinal)
                    || code.Contains("new Npgsql.Replication.LogicalReplicationConnection(", StringComparison.Ordinal)
                    || code.Contains("NpgsqlDataSource", StringComparison.Ordinal)))
            .Select(f => Path.GetRelativePath(CoreRoot(), f.File).Replace('\\', '/'))
            .ToList();
        Assert.Equal(["Connections/Db.cs"], opening);
    }

    [Fact]
    public void Should_Keep_Every_Source_File_Under_450_Lines()
    {
        var root = Path.GetDirectoryName(CoreRoot())!;
        var long_ = Directory.GetFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (File: Path.GetRelativePath(root, f), Lines: File.ReadLines(f).Count()))
            .Where(f => f.Lines > 450)
            .Select(f => $"{f.File}: {f.Lines} lines")
            .ToList();
        Assert.True(long_.Count == 0, string.Join("\n", long_));
    }

    /// <summary>
    /// A type is one file: <c>partial</c> only for what a source generator writes beside it (a <c>[GeneratedRegex]</c>,
    /// a JSON context), never to get a class under the line limit (its parts would be one class in disguise).
    /// </summary>
    [Fact]
    public void Should_Declare_Every_Type_In_One_File()
    {
        var spread = SourceFiles()
            .SelectMany(f => PartialType().Matches(CodeOnly(File.ReadAllText(f)))
                .Select(m => (Type: $"{FileNamespace().Match(File.ReadAllText(f)).Groups[1].Value}.{m.Groups[1].Value}", File: SourceRelative(f))))
            .GroupBy(t => t.Type, StringComparer.Ordinal)
            .Where(g => g.Select(t => t.File).Distinct(StringComparer.Ordinal).Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(t => t.File).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))}")
            .ToList();
        Assert.True(spread.Count == 0, string.Join("\n", spread));
    }

    [Theory]
    [InlineData("internal sealed partial class SchemaCarry(PgConnectionInfo source)", "SchemaCarry")]
    [InlineData("public static partial class ProgressJson", "ProgressJson")]
    [InlineData("internal partial record struct Point", "Point")]
    [InlineData("internal sealed class Partial", null)]
    public void Should_Recognise_A_Partial_Type(string code, string? type) =>
        Assert.Equal(type, PartialType().Match(code) is { Success: true } m ? m.Groups[1].Value : null);

    [GeneratedRegex(@"\bpartial\s+(?:record\s+struct|record\s+class|class|record|struct|interface)\s+(\w+)")]
    private static partial Regex PartialType();

    [GeneratedRegex(@"(?m)^namespace\s+([\w.]+)")]
    private static partial Regex FileNamespace();
}

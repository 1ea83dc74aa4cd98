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
}

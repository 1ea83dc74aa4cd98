using System.Text.RegularExpressions;

namespace PgRelocate.Tests;

/// <summary>The rules of docs/architecture.md about names written once: a schema-qualified name is joined by <c>Db.Qualified</c> only.</summary>
public partial class ArchitectureTests
{
    [Fact]
    public void Should_Join_Qualified_Names_Through_Db_Qualified_Only()
    {
        var joining = SourceFiles()
            .Where(f => QualifiedJoin().IsMatch(CodeOnly(File.ReadAllText(f))))
            .Select(SourceRelative)
            .ToList();
        Assert.Equal(["PgRelocate.Core/Connections/Db.cs"], joining);
    }

    [Theory]
    [InlineData("var q = Db.Ident(schema) + \".\" + Db.Ident(name);", true)]
    [InlineData("var q = $\"ANALYZE {Db.Ident(t.Schema)}.{Db.Ident(t.Name)}\";", true)]
    [InlineData("var q = Db.Ident(r.GetString(0)) + \".\" + Db.Ident(r.GetString(1));", true)]
    [InlineData("var q = $\"ANALYZE {Db.Qualified(t.Schema, t.Name)}\";", false)]
    [InlineData("var q = $\"GRANT USAGE ON SCHEMA {Db.Ident(schema)} TO {Db.Ident(role)}\";", false)]
    public void Should_Recognise_A_Qualified_Name_Joined_By_Hand(string code, bool joined) =>
        Assert.Equal(joined, QualifiedJoin().IsMatch(code));

    /// <summary>Every .cs file of the engine and the command line, outside bin and obj.</summary>
    private static IEnumerable<string> SourceFiles() =>
        Directory.GetFiles(Path.GetDirectoryName(CoreRoot())!, "*.cs", SearchOption.AllDirectories)
            .Where(f => !SourceRelative(f).Split('/').Any(p => p is "bin" or "obj"));

    private static string SourceRelative(string file) => Path.GetRelativePath(Path.GetDirectoryName(CoreRoot())!, file).Replace('\\', '/');

    /// <summary>Two quoted identifiers joined by a dot: <c>Ident(a) + "." + Ident(b)</c> or <c>{Ident(a)}.{Ident(b)}</c>.</summary>
    [GeneratedRegex(@"Ident\((?:[^()]|\([^()]*\))*\)(?:\s*\+\s*""\.""\s*\+\s*|\}\.\{)(?:Db\.)?Ident\(")]
    private static partial Regex QualifiedJoin();
}

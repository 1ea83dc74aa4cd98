using System.Reflection;
using System.Text.RegularExpressions;
using Npgsql;

namespace PgRelocate.Tests;

/// <summary>
/// The rules of docs/architecture.md about names written once: a schema-qualified name is joined by <c>Db.Qualified</c>
/// only, a SQLSTATE is named by Npgsql's <c>PostgresErrorCodes</c>, never written as a literal, a plural is
/// <c>Sentences.Counted</c> or <c>Sentences.Plural</c>, and an option several commands share is declared once.
/// </summary>
public partial class ArchitectureTests
{
    [Fact]
    public void Should_Join_Qualified_Names_Through_Db_Qualified_Only()
    {
        Assert.Equal(["PgRelocate.Core/Connections/Db.cs"], FilesWhoseCodeMatches(QualifiedJoin()));
    }

    [Theory]
    [InlineData("var q = Db.Ident(schema) + \".\" + Db.Ident(name);", true)]
    [InlineData("var q = $\"ANALYZE {Db.Ident(t.Schema)}.{Db.Ident(t.Name)}\";", true)]
    [InlineData("var q = Db.Ident(r.GetString(0)) + \".\" + Db.Ident(r.GetString(1));", true)]
    [InlineData("var q = $\"ANALYZE {Db.Qualified(t.Schema, t.Name)}\";", false)]
    [InlineData("var q = $\"GRANT USAGE ON SCHEMA {Db.Ident(schema)} TO {Db.Ident(role)}\";", false)]
    public void Should_Recognise_A_Qualified_Name_Joined_By_Hand(string code, bool joined) =>
        Assert.Equal(joined, QualifiedJoin().IsMatch(code));

    [Fact]
    public void Should_Name_Every_SqlState_Through_Postgres_Error_Codes()
    {
        var written = SourceFiles()
            .SelectMany(f => FiveCharacters().Matches(CodeOnly(File.ReadAllText(f)))
                .Select(m => m.Groups[1].Value)
                .Where(SqlStates.Contains)
                .Select(code => $"{SourceRelative(f)} writes \"{code}\""))
            .ToList();
        Assert.True(written.Count == 0, string.Join("\n", written));
    }

    [Fact]
    public void Should_Know_The_SqlStates_And_Not_Other_Five_Character_Words()
    {
        Assert.Contains("55P03", SqlStates);
        Assert.Contains("57P01", SqlStates);
        Assert.Contains("42501", SqlStates);
        Assert.DoesNotContain("128MB", SqlStates);
        Assert.DoesNotContain("TABLE", SqlStates);
        Assert.Equal(["55P03"], FiveCharacters().Matches("catch (PostgresException e) when (e.SqlState == \"55P03\")").Select(m => m.Groups[1].Value));
    }

    /// <summary>
    /// The options several commands share, each declared in its own file of the command line. Other things under the
    /// same name: <c>settings</c>' --source and --target (a URL or a CSV) and --confirm (always required, for a change
    /// of settings); <c>check</c>'s --confirm (it lets the estimate time a rolled-back scratch table, and replaces
    /// nothing), --online, --replica-identity-full and --roles (what is checked); <c>verify</c>'s --roles and
    /// --roles-with-privileged-attributes (what is compared); <c>demo</c>'s --online and --report; <c>cancel</c>'s and
    /// <c>dump</c>'s --force. --jobs is one file of forms side by side: what a job is differs with the engine.
    /// </summary>
    private static readonly Dictionary<string, string[]> SharedOptions = new(StringComparer.Ordinal)
    {
        ["--source"] = ["PgRelocate.Cli/Commands/SettingsCommand.cs", "PgRelocate.Cli/Commands/SourceOption.cs"],
        ["--target"] = ["PgRelocate.Cli/Commands/SettingsCommand.cs", "PgRelocate.Cli/Commands/TargetOption.cs"],
        ["--confirm"] = ["PgRelocate.Cli/Commands/CheckCommand.cs", "PgRelocate.Cli/Commands/ConfirmOption.cs", "PgRelocate.Cli/Commands/SettingsCommand.cs"],
        ["--jobs"] = ["PgRelocate.Cli/Commands/JobsOption.cs"],
        ["--wait"] = ["PgRelocate.Cli/Commands/WaitOption.cs"],
        ["--log"] = ["PgRelocate.Cli/Commands/LogOption.cs"],
        ["--create-bucket"] = ["PgRelocate.Cli/StagingCliOptions.cs"],
        ["--map-role"] = ["PgRelocate.Cli/Commands/RoleOptions.cs"],
        ["--roles"] = ["PgRelocate.Cli/Commands/CheckCommand.cs", "PgRelocate.Cli/Commands/RoleOptions.cs", "PgRelocate.Cli/Commands/VerifyCommand.cs"],
        ["--roles-with-privileged-attributes"] = ["PgRelocate.Cli/Commands/RoleOptions.cs", "PgRelocate.Cli/Commands/VerifyCommand.cs"],
        ["--online"] = ["PgRelocate.Cli/Commands/CheckCommand.cs", "PgRelocate.Cli/Commands/DemoCommand.cs", "PgRelocate.Cli/Commands/MigrateCommand.cs"],
        ["--replica-identity-full"] = ["PgRelocate.Cli/Commands/CheckCommand.cs", "PgRelocate.Cli/Commands/MigrateCommand.cs"],
        ["--report"] = ["PgRelocate.Cli/Commands/DemoCommand.cs", "PgRelocate.Cli/Commands/MigrateCommand.cs"],
        ["--force"] = ["PgRelocate.Cli/Commands/CancelCommand.cs", "PgRelocate.Cli/Commands/DumpCommand.cs"],
        ["--pgbouncer"] = ["PgRelocate.Cli/Commands/DemoCommand.cs", "PgRelocate.Cli/Commands/PgBouncerCliOptions.cs"],
        ["--compress"] = ["PgRelocate.Cli/Commands/CompressOption.cs"],
        ["--workdir"] = ["PgRelocate.Cli/Commands/WorkDirOption.cs"],
        ["--lock-timeout"] = ["PgRelocate.Cli/Commands/LockTimeoutOption.cs"],
    };

    [Fact]
    public void Should_Declare_Each_Shared_Option_Once()
    {
        var files = SourceFiles().Select(f => (Name: SourceRelative(f), Code: CodeOnly(File.ReadAllText(f)))).ToList();
        foreach (var (option, homes) in SharedOptions)
        {
            var declaring = files.Where(f => f.Code.Contains($"(\"{option}\"", StringComparison.Ordinal)).Select(f => f.Name).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(homes, declaring);
        }
    }

    [Fact]
    public void Should_Write_Plurals_Through_Sentences_Only()
    {
        Assert.Empty(FilesWhoseCodeMatches(HandPlural()));
    }

    [Theory]
    [InlineData("$\"{n} table{(n == 1 ? \"\" : \"s\")}\"", true)]
    [InlineData("$\"process{(n == 1 ? \"\" : \"es\")}\"", true)]
    [InlineData("$\"hold{(n == 1 ? \"s\" : \"\")}\"", true)]
    [InlineData("static string Count(int n, string what) => n == 1 ? $\"1 {what}\" : $\"{n} {what}s\";", true)]
    [InlineData("$\"{Sentences.Counted(n, \"table\")}\"", false)]
    [InlineData("var s = ok ? \"\" : \"; \";", false)]
    public void Should_Recognise_A_Plural_Written_By_Hand(string code, bool written) =>
        Assert.Equal(written, HandPlural().IsMatch(code));

    /// <summary>An option declared in more than one file is one of <see cref="SharedOptions"/>: shared on purpose, or named there as another thing.</summary>
    [Fact]
    public void Should_Know_Every_Option_Declared_In_More_Than_One_File()
    {
        var unknown = SourceFiles()
            .SelectMany(f => OptionDeclaration().Matches(CodeOnly(File.ReadAllText(f))).Select(m => (Option: m.Groups[1].Value, File: SourceRelative(f))))
            .Distinct()
            .GroupBy(d => d.Option)
            .Where(g => g.Count() > 1 && !SharedOptions.ContainsKey(g.Key))
            .Select(g => $"{g.Key} is declared in {string.Join(", ", g.Select(d => d.File))}")
            .ToList();
        Assert.True(unknown.Count == 0, string.Join("\n", unknown));
        Assert.Equal(["--jobs", "--max-rows"], OptionDeclaration().Matches("var a = new Option<int?>(\"--jobs\", \"-j\"); Option<int> b = new(\"--max-rows\") { };").Select(m => m.Groups[1].Value));
    }

    /// <summary>Every SQLSTATE Npgsql names: a literal equal to one of them is a code written by hand.</summary>
    private static readonly HashSet<string> SqlStates = typeof(PostgresErrorCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Every .cs file of the engine and the command line, outside bin and obj.</summary>
    private static IEnumerable<string> SourceFiles() =>
        Directory.GetFiles(Path.GetDirectoryName(CoreRoot())!, "*.cs", SearchOption.AllDirectories)
            .Where(f => !SourceRelative(f).Split('/').Any(p => p is "bin" or "obj"));

    /// <summary>The files of <see cref="SourceFiles"/> whose code, comments left out, matches <paramref name="pattern"/>.</summary>
    private static List<string> FilesWhoseCodeMatches(Regex pattern) =>
        SourceFiles().Where(f => pattern.IsMatch(CodeOnly(File.ReadAllText(f)))).Select(SourceRelative).ToList();

    private static string SourceRelative(string file) => Path.GetRelativePath(Path.GetDirectoryName(CoreRoot())!, file).Replace('\\', '/');

    /// <summary>Two quoted identifiers joined by a dot: <c>Ident(a) + "." + Ident(b)</c> or <c>{Ident(a)}.{Ident(b)}</c>.</summary>
    [GeneratedRegex(@"Ident\((?:[^()]|\([^()]*\))*\)(?:\s*\+\s*""\.""\s*\+\s*|\}\.\{)(?:Db\.)?Ident\(")]
    private static partial Regex QualifiedJoin();

    /// <summary>A plural made by hand: a suffix chosen by a count (<c>? "" : "s"</c>, <c>? "s" : ""</c>) or "1 x" beside "{n} xs".</summary>
    [GeneratedRegex(@"\?\s*""""\s*:\s*""e?s""|\?\s*""s""\s*:\s*""""|== 1 \? \$?""1 ")]
    private static partial Regex HandPlural();

    /// <summary>An option's declaration: <c>new("--name"</c> or <c>new Option&lt;T&gt;("--name"</c>.</summary>
    [GeneratedRegex(@"new(?:\s+Option<[^(]*>)?\(""(--[a-z][a-z0-9-]*)""")]
    private static partial Regex OptionDeclaration();

    [GeneratedRegex(@"""([0-9A-Z]{5})""")]
    private static partial Regex FiveCharacters();
}

using System.Text.RegularExpressions;

namespace PgRelocate.Tests;

/// <summary>
/// The rules of docs/architecture.md that a reading of the source can check: which folder of the engine may
/// use which, one launcher each for pg_dump and pg_restore, and no parsing of <c>pg_restore --list</c> text.
/// </summary>
public partial class ArchitectureTests
{
    /// <summary>Each folder of the engine and its layer: a folder may use its own layer and those below.</summary>
    private static readonly Dictionary<string, int> Layers = new(StringComparer.Ordinal)
    {
        ["Errors"] = 1, ["Progress"] = 1, ["Tools"] = 1,
        ["Connections"] = 2, ["Catalog"] = 2, ["Archives"] = 2, ["Clusters"] = 2,
        ["Staging"] = 3, ["Runners"] = 3,
        ["Targets"] = 4, ["Dump"] = 4, ["Restore"] = 4, ["Copy"] = 4, ["Verify"] = 4, ["Settings"] = 4, ["Preflight"] = 4, ["Demo"] = 4, ["Poolers"] = 4,
        ["Migration"] = 5, ["Online"] = 5,
    };

    /// <summary>The deliberate exceptions the document names: (file, folder it may use).</summary>
    private static readonly HashSet<(string File, string Uses)> Allowed =
    [
        ("Errors/Failures.cs", "Connections"),
        ("Targets/TargetPreparation.cs", "Preflight"),
        ("Targets/TargetRequirements.cs", "Preflight"),
    ];

    [Fact]
    public void Should_Have_A_Layer_For_Every_Folder_Of_The_Engine()
    {
        var folders = Directory.GetDirectories(CoreRoot()).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).ToList();
        Assert.DoesNotContain(folders, f => !Layers.ContainsKey(f!));
    }

    /// <summary>Every source file of the engine sits in a layer's folder: a file at its root would escape the layers' test.</summary>
    [Fact]
    public void Should_Keep_No_Source_File_At_The_Root_Of_The_Engine()
    {
        Assert.Empty(Directory.GetFiles(CoreRoot(), "*.cs").Select(Path.GetFileName));
    }

    [Fact]
    public void Should_Use_Only_The_Same_Or_Lower_Layers()
    {
        var broken = new List<string>();
        foreach (var (file, folder) in CoreFiles())
        {
            var code = CodeOnly(File.ReadAllText(file));
            var used = Usings().Matches(code).Select(m => m.Groups[1].Value)
                .Concat(Qualified().Matches(code).Select(m => m.Groups[1].Value))
                .Where(Layers.ContainsKey).Distinct();
            var relative = Path.GetRelativePath(CoreRoot(), file).Replace('\\', '/');
            broken.AddRange(used
                .Where(u => Layers[u] > Layers[folder] && !Allowed.Contains((relative, u)))
                .Select(u => $"{relative} (layer {Layers[folder]}) uses {u} (layer {Layers[u]})"));
        }

        Assert.True(broken.Count == 0, string.Join("\n", broken));
    }

    [Fact]
    public void Should_Not_Parse_Pg_Restore_List_Text()
    {
        var listing = CoreFiles()
            .Where(f => CodeOnly(File.ReadAllText(f.File)).Contains("\"--list\"", StringComparison.Ordinal))
            .Select(f => f.File)
            .ToList();
        Assert.Empty(listing);
    }

    private static string CoreRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PgRelocate.sln")))
            {
                return Path.Combine(dir.FullName, "src", "PgRelocate.Core");
            }
        }

        throw new InvalidOperationException("The checkout (PgRelocate.sln) was not found above the test's folder.");
    }

    private static IEnumerable<(string File, string Folder)> CoreFiles() =>
        Directory.GetDirectories(CoreRoot())
            .Select(d => (Dir: d, Name: Path.GetFileName(d)))
            .Where(d => d.Name is not ("bin" or "obj"))
            .SelectMany(d => Directory.GetFiles(d.Dir, "*.cs", SearchOption.AllDirectories).Select(f => (f, d.Name)));

    /// <summary>The source without comments, so that prose naming a folder or a flag does not count.</summary>
    private static string CodeOnly(string source) => Comment().Replace(source, "");

    [GeneratedRegex(@"^\s*using (?:static )?PgRelocate\.([A-Za-z]+)", RegexOptions.Multiline)]
    private static partial Regex Usings();

    /// <summary>A folder's namespace used in code: "PgRelocate.Staging.StagingOptions" or "Targets.TargetRequirements".</summary>
    [GeneratedRegex(@"(?<![\w.""])(?:PgRelocate\.)?([A-Z][A-Za-z]+)\.[A-Z]\w*")]
    private static partial Regex Qualified();

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex Comment();
}

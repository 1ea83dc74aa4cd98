using System.Text.RegularExpressions;

namespace PgRelocate.Tests;

/// <summary>The rules of docs/architecture.md about the journal's step outputs, and what the command line leaves to the engine.</summary>
public partial class ArchitectureTests
{
    [Fact]
    public void Should_Read_And_Write_Step_Outputs_Through_Typed_Keys_Only()
    {
        // A step's outputs are text by name in journal.json; only the record's typed accessors (JournalKey) touch that text.
        var naming = SourceFiles()
            .Where(f => OutputsByName().IsMatch(CodeOnly(File.ReadAllText(f))))
            .Select(SourceRelative)
            .ToList();
        Assert.Equal(["PgRelocate.Core/Migration/MigrationJournal.cs"], naming);
    }

    [Fact]
    public void Should_Leave_Sessions_Journals_And_Runs_To_The_Engine_From_The_Command_Line()
    {
        // The command line parses, calls the engine and renders: it opens no session, writes no journal and builds no
        // runner of its own.
        var doing = SourceFiles()
            .Where(f => SourceRelative(f).StartsWith("PgRelocate.Cli/", StringComparison.Ordinal))
            .SelectMany(f => EngineWork().Matches(CodeOnly(File.ReadAllText(f))).Select(m => $"{SourceRelative(f)}: {m.Value}"))
            .ToList();
        Assert.True(doing.Count == 0, "The command line does the engine's work: " + string.Join(", ", doing));
    }

    [GeneratedRegex(@"\bDb\.Open\w*|\b(?:Migration|Instance)Journal\.Create\b|\bnew (?:Migration|Instance)Runner\b")]
    private static partial Regex EngineWork();

    [GeneratedRegex(@"\bOutputs\b")]
    private static partial Regex OutputsByName();
}

using System.Text.RegularExpressions;

namespace PgRelocate.Tests;

/// <summary>The rules of docs/architecture.md about the journal's step outputs.</summary>
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

    [GeneratedRegex(@"\bOutputs\b")]
    private static partial Regex OutputsByName();
}

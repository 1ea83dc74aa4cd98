using PgRelocate.Errors;

namespace PgRelocate.Tests.Errors;

/// <summary>Messages joined from parts written elsewhere: one period at each sentence's end, never two.</summary>
public class SentencesTests
{
    [Theory]
    [InlineData("It failed.", "Fix it.", "It failed. Fix it. Nothing was changed.")]
    [InlineData("It failed", "Fix it (when the server restricts it).", "It failed. Fix it (when the server restricts it). Nothing was changed.")]
    [InlineData("r has no REPLICATION.", "ALTER ROLE r WITH REPLICATION; (and allow it when the server restricts it)", "r has no REPLICATION. ALTER ROLE r WITH REPLICATION; (and allow it when the server restricts it). Nothing was changed.")]
    [InlineData("Is it there?", "Run 'pgrelocate info X'.  ", "Is it there? Run 'pgrelocate info X'. Nothing was changed.")]
    [InlineData("Found (see the report.)", null, "Found (see the report.) Nothing was changed.")]
    public void Should_End_Each_Sentence_With_One_Period(string found, string? next, string expected)
    {
        Assert.Equal(expected, Sentences.NothingWasChanged(found, next));
        Assert.DoesNotContain("..", Sentences.NothingWasChanged(found, next), StringComparison.Ordinal);
    }

    /// <summary>A value written elsewhere (a check's next step) may or may not end with a period: only the helper may end it.</summary>
    [Fact]
    public void Should_Not_Append_Nothing_Was_Changed_Right_After_A_Value_Written_Elsewhere()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "PgRelocate.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("No PgRelocate.sln above the tests.");
        }

        var hole = new System.Text.RegularExpressions.Regex(@"\{[A-Za-z_.()]+\}\.? Nothing was changed");
        var found = Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Where(l => hole.IsMatch(l)).Select(l => $"{Path.GetFileName(f)}: {l.Trim()}"))
            .ToList();
        Assert.True(found.Count == 0, "Use Sentences.NothingWasChanged:\n" + string.Join("\n", found));
    }

    [Theory]
    [InlineData("plain text: ü, 'quoted'", "plain text: ü, 'quoted'")]
    [InlineData("db\0x", "db\\x00x")]
    [InlineData("a\u001b[31mb\nc\u007f", "a\\x1b[31mb\\x0ac\\x7f")]
    [InlineData("c1\u009b", "c1\\x9b")]
    public void Should_Print_Control_Characters_Escaped(string text, string expected)
    {
        Assert.Equal(expected, Sentences.Printable(text));
    }
}

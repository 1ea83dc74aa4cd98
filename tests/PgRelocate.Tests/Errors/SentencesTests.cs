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

    [Theory]
    [InlineData(0, "table", null, "0 tables")]
    [InlineData(1, "table", null, "1 table")]
    [InlineData(2, "table", null, "2 tables")]
    [InlineData(1, "policy", "policies", "1 policy")]
    [InlineData(3, "policy", "policies", "3 policies")]
    public void Should_Count_With_The_Noun_Agreeing(long count, string noun, string? plural, string expected)
    {
        Assert.Equal(expected, Sentences.Counted(count, noun, plural));
        Assert.Equal(expected[(expected.IndexOf(' ', StringComparison.Ordinal) + 1)..], Sentences.Plural(count, noun, plural));
    }

    [Theory]
    [InlineData(new[] { "a", "b" }, 3, ", ", "a, b")]
    [InlineData(new[] { "a", "b", "c" }, 3, ", ", "a, b, c")]
    [InlineData(new[] { "a", "b", "c", "d", "e" }, 3, ", ", "a, b, c and 2 more")]
    [InlineData(new[] { "t (x, y)", "u (z)", "v (w)" }, 2, "; ", "t (x, y); u (z) and 1 more")]
    public void Should_Cut_A_Short_List_After_The_First_Few(string[] names, int max, string separator, string expected)
    {
        Assert.Equal(expected, Sentences.FirstFew(names, max, separator));
    }
}

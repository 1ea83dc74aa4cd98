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
}

using PgRelocate.Online.Fallback;

namespace PgRelocate.Tests.Online;

/// <summary>The way back's reading of a row's record text (<c>row::text</c>), as PostgreSQL writes it.</summary>
public class FallbackRecordTextTests
{
    [Theory]
    [InlineData("(1,abc,)", new[] { "1", "abc", null })]
    [InlineData("(,\"\",x)", new[] { null, "", "x" })]
    [InlineData("(\"a \"\"quoted\"\", b\",\"back\\\\slash\")", new[] { "a \"quoted\", b", "back\\slash" })]
    [InlineData("(\"(1,2)\",\"{1,2}\",\"line\nbreak\")", new[] { "(1,2)", "{1,2}", "line\nbreak" })]
    [InlineData("(\"\\\\x00ff\")", new[] { "\\x00ff" })]
    public void Should_Read_Each_Value_Back_As_Its_Types_Text(string text, string?[] expected) =>
        Assert.Equal(expected, RecordText.Parse(text));
}

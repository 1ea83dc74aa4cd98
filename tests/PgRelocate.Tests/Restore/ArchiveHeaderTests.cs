using System.Text;
using PgRelocate.Archives;
using PgRelocate.Errors;

namespace PgRelocate.Tests.Restore;

public class ArchiveHeaderTests
{
    [Theory]
    [InlineData(14, 0)]
    [InlineData(15, 16)]
    [InlineData(16, 17)]
    public void Should_Name_The_Oldest_PgRestore_That_Reads_A_Format(int formatMinor, int expected)
    {
        byte[] head = [.. "PGDMP"u8, 1, (byte)formatMinor, 0];

        var header = ArchiveHeader.Parse(head, "x");

        Assert.Equal($"1.{formatMinor}", header.FormatVersion);
        Assert.Equal(expected, header.MinimumPgRestoreMajor);
    }

    [Theory]
    [InlineData("<html><body>nope</body></html>", "HTML page")]
    [InlineData("<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>Signature did not match</Message></Error>", "AuthenticationFailed")]
    [InlineData("PGD", "truncated")]
    [InlineData("hello world", "does not start with PGDMP")]
    public void Should_Explain_What_Came_Back_Instead(string content, string expected)
    {
        var e = Assert.Throws<UsageException>(() => ArchiveHeader.Parse(Encoding.UTF8.GetBytes(content), "'download'"));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("'download' ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_Recognise_Gzip()
    {
        var e = Assert.Throws<UsageException>(() => ArchiveHeader.Parse([0x1f, 0x8b, 8, 0, 0], "f"));

        Assert.Contains("gzip", e.Message, StringComparison.Ordinal);
    }
}

using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Connections;

/// <summary>What a user types is never printed raw: a NUL in a URL is refused as bad input, control characters are shown escaped.</summary>
public sealed class UserInputTests
{
    [Fact]
    public async Task Should_Refuse_A_Url_With_A_Nul_Byte_As_Bad_Input()
    {
        var refused = await CliRunner.RunAsync("check", "--source", "postgres://app@127.0.0.1:1/db%00x");

        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("%00", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain('\0', refused.Output);
    }

    [Fact]
    public async Task Should_Print_Control_Characters_Of_User_Input_Escaped()
    {
        var refused = await CliRunner.RunAsync("dump", "--source", "postgres://app@127.0.0.1:1/db", "--to", "/nonexistent-\u001b[31mred\u0007/app.dump");

        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("/nonexistent-\\x1b[31mred\\x07", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', refused.Output);
        Assert.DoesNotContain('\u0007', refused.Output);
    }
}

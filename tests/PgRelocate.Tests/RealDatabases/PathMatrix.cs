using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>What every path of the matrix must be followed by: verify, the independent comparison, the provider's extensions in place.</summary>
public static class PathMatrix
{
    public static TheoryData<string, string> Cells(string[] databases, string[] paths)
    {
        var data = new TheoryData<string, string>();
        foreach (var db in databases)
        {
            foreach (var path in paths)
            {
                data.Add(db, path);
            }
        }

        return data;
    }

    /// <summary>Fails with the tool's own output unless <paramref name="result"/> exited 0.</summary>
    public static void AssertSucceeded(string what, CliResult result) =>
        Assert.True(result.ExitCode == 0, $"{what} failed: {result}");

    /// <summary>pgrelocate verify, then the tests' own comparison, then the provider's extensions.</summary>
    public static async Task AssertMovedAsync(PgConnectionInfo source, PgConnectionInfo target, ProviderTarget provider, params string[] extra)
    {
        var verify = await CliRunner.RunAsync(["verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), .. extra], null);
        var comparison = await Record.ExceptionAsync(() => DatabaseSnapshot.AssertSameAsync(source, target));
        var extensions = await Record.ExceptionAsync(() => provider.AssertExtensionsInPlaceAsync(target));
        var problems = new List<string>();
        if (verify.ExitCode != 0)
        {
            problems.Add($"pgrelocate verify failed: {verify}");
        }

        if (comparison is not null)
        {
            problems.Add(comparison.Message);
        }

        if (extensions is not null)
        {
            problems.Add(extensions.Message);
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}

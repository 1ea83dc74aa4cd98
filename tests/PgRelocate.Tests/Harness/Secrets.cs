using System.Collections.Concurrent;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// Every password, key and signature the harness hands out. <see cref="CliRunner"/> fails any test whose
/// command output contains one, so "no secret in any output" is checked by every test, not by a few.
/// </summary>
public static class Secrets
{
    private static readonly ConcurrentDictionary<string, byte> Known = new(StringComparer.Ordinal);

    public static void Register(string secret)
    {
        if (secret.Length >= 6)
        {
            Known.TryAdd(secret, 0);
        }
    }

    public static void AssertAbsent(string text, string where)
    {
        foreach (var secret in Known.Keys)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                throw new Xunit.Sdk.XunitException($"A secret appeared in {where}.");
            }
        }
    }

    /// <summary>The text with every known secret replaced by <c>***</c>: for the harness's own messages (a command line it ran).</summary>
    public static string Masked(string text) => Known.Keys.Aggregate(text, (t, secret) => t.Replace(secret, "***", StringComparison.Ordinal));
}

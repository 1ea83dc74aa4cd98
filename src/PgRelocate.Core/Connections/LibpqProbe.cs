using System.Text.RegularExpressions;
using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Connections;

/// <summary>What <see cref="LibpqProbe"/> found: connected, or could not try (no psql), and why.</summary>
internal sealed record LibpqProbeResult(bool Connected, string? SkippedBecause)
{
    public static LibpqProbeResult Ok { get; } = new(true, null);
}

/// <summary>
/// Proves that libpq (the library pg_dump and pg_restore use) connects with the same TLS settings and
/// credentials as our own sessions, before anything destructive: it runs <c>psql -c 'SELECT 1'</c>, found
/// next to the pg_dump or pg_restore about to be used, with the same child environment they get. A
/// certificate our sessions accept and libpq refuses (an older libpq, a different CA default) then fails
/// here, not after the target was emptied.
/// </summary>
internal static partial class LibpqProbe
{
    /// <summary>Connects with the psql next to <paramref name="nextTo"/>.</summary>
    /// <returns>Connected, or skipped (with the reason) when no psql is installed there.</returns>
    /// <exception cref="PgRelocateException">libpq could not connect; the message says why and what to do.</exception>
    public static async Task<LibpqProbeResult> RunAsync(PgConnectionInfo info, string role, PgTool nextTo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(nextTo);
        var psql = Path.Combine(Path.GetDirectoryName(nextTo.Path) ?? ".", "psql");
        if (!File.Exists(psql))
        {
            return new LibpqProbeResult(false, $"psql is not installed next to {nextTo.Path}, so libpq's connection to the {role} was not tried before starting");
        }

        var errors = new List<string>();
        var spec = new ChildProcessSpec(psql, ["-X", "-q", "-A", "-t", "-w", "-c", "SELECT 1"])
        {
            Environment = info.ToLibpqEnvironment(),
            StderrLine = line => { lock (errors) { errors.Add(info.Scrub(line)); } },
        };
        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        if (exit == 0)
        {
            return LibpqProbeResult.Ok;
        }

        throw Describe(string.Join(" ", errors), info, role);
    }

    /// <summary>Connects with the psql next to the newest pg_dump of <paramref name="binaries"/>.</summary>
    public static Task<LibpqProbeResult> RunAsync(PgConnectionInfo info, string role, PgBinaries binaries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binaries);
        return RunAsync(info, role, binaries.Newest("pg_dump"), cancellationToken);
    }

    /// <summary>libpq's error text, in the words <see cref="Db.Describe(Exception, PgConnectionInfo?, string?)"/> uses for our sessions.</summary>
    internal static PgRelocateException Describe(string stderr, PgConnectionInfo info, string role)
    {
        var where = $"the {role} ({info.Display})";
        var tls = TlsPolicy.For(info);
        var text = Regex.Replace(stderr, @"\s+", " ").Trim();
        var message = text switch
        {
            _ when HostMismatch().Match(text) is { Success: true } m =>
                $"Refused {where} (libpq): the server's certificate is for {m.Groups[1].Value}, not {m.Groups[2].Value} (sslmode=verify-full): connect with a host name the certificate names, or use sslmode=verify-ca.",
            _ when text.Contains("certificate verify failed", StringComparison.Ordinal) =>
                $"Refused {where} (libpq): the server's certificate is not signed by {(tls.RootCert is { } r && r != "system" ? Path.GetFileName(r) + $" ({r})" : "a trusted CA")} (sslmode={tls.Mode}): give the CA that signed it with sslrootcert.",
            _ when text.Contains("root certificate file", StringComparison.Ordinal) && text.Contains("does not exist", StringComparison.Ordinal) =>
                $"sslmode={tls.Mode} needs the CA certificate that signed the {role}'s server certificate, and libpq found none ({tls.RootCertName ?? "~/.postgresql/root.crt"}): give it with sslrootcert=PATH.",
            _ when text.Contains("does not support SSL", StringComparison.Ordinal) =>
                $"{where} does not accept TLS connections, and sslmode={tls.Mode} requires TLS: enable TLS on the server, or use sslmode=prefer only if the network to it is trusted.",
            _ when text.Contains("client certificate", StringComparison.Ordinal) || text.Contains("certificate authentication failed", StringComparison.Ordinal)
                || text.Contains("alert unknown ca", StringComparison.Ordinal) || text.Contains("alert bad certificate", StringComparison.Ordinal) => tls.ClientCert is null
                ? $"{where} requires a client certificate (libpq: {Last(text)}): give one with sslcert=PATH and sslkey=PATH."
                : $"{where} refused the client certificate {tls.ClientCert} (libpq: {Last(text)}): give a certificate signed by the CA the server trusts, for the user '{info.User}'.",
            _ when text.Contains("password authentication failed", StringComparison.Ordinal) =>
                $"Password authentication failed for user '{info.User}' on {where} (libpq): check the password.",
            _ when text.Contains("no password supplied", StringComparison.Ordinal) =>
                $"{where} asks libpq for a password and none was given: {info.NoPasswordAdvice}.",
            _ => $"psql could not connect to {where}, though it is how pg_dump and pg_restore connect: {Last(text)}.",
        };
        return new PgRelocateException(char.ToUpperInvariant(message[0]) + message[1..], ExitCode.Failed);
    }

    private static string Last(string text)
    {
        var cut = text.IndexOf("FATAL:", StringComparison.Ordinal);
        var shown = cut >= 0 ? text[cut..] : text.Replace("psql: error: ", "", StringComparison.Ordinal);
        return shown.Length > 300 ? shown[..300] + "..." : shown.TrimEnd('.');
    }

    [GeneratedRegex("server certificate for \"([^\"]*)\"(?: \\(and \\d+ other names?\\))? does not match host name \"([^\"]*)\"")]
    private static partial Regex HostMismatch();
}

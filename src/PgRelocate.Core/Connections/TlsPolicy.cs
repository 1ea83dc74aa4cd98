using System.Net;
using System.Net.Security;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Npgsql;
using PgRelocate.Errors;

namespace PgRelocate.Connections;

/// <summary>
/// libpq's TLS rules for one connection, applied to our Npgsql sessions so that they accept exactly the
/// servers pg_dump and pg_restore accept. Where Npgsql's rules differ (it never checks the server with
/// sslmode require or prefer, even when a CA file is given; it does not read sslcrl), the handshake's
/// validation callback does libpq's checks itself:
/// <list type="bullet">
/// <item>sslmode defaults to prefer, or to verify-full with <c>sslrootcert=system</c>; TLS is never used over a Unix socket.</item>
/// <item>The CA file is sslrootcert, else <c>~/.postgresql/root.crt</c>. When it exists the server's chain
/// is verified against it in every mode that uses TLS (require then behaves as verify-ca); verify-ca and
/// verify-full refuse to connect without it. <c>system</c> means the system's trusted CAs and needs verify-full.</item>
/// <item>verify-full also checks the host name against the certificate's subjectAltNames of the host's kind
/// (DNS name or IP address), or its common name when it has none, with libpq's one-label wildcards.</item>
/// <item>The client certificate is sslcert, else <c>~/.postgresql/postgresql.crt</c>, sent only when the
/// file exists; its key (sslkey, else <c>~/.postgresql/postgresql.key</c>) must then exist and not be
/// readable by others.</item>
/// <item>sslcrl, when the file exists, rejects a chain holding a certificate it lists as revoked.</item>
/// </list>
/// </summary>
internal sealed class TlsPolicy
{
    private readonly PgConnectionInfo _info;

    private TlsPolicy(PgConnectionInfo info)
    {
        _info = info;
        var rootGiven = info.Options.GetValueOrDefault("sslrootcert");
        Mode = info.IsUnixSocket ? "disable" : info.SslMode ?? (rootGiven == "system" ? "verify-full" : "prefer");
        RootCertName = rootGiven ?? DefaultFile(info, "root.crt");
        RootCert = rootGiven == "system" ? "system" : RootCertName is { } r && File.Exists(r) ? r : null;
        var cert = info.Options.GetValueOrDefault("sslcert") ?? DefaultFile(info, "postgresql.crt");
        ClientCert = cert is not null && File.Exists(cert) ? cert : null;
        ClientKey = info.Options.GetValueOrDefault("sslkey") ?? DefaultFile(info, "postgresql.key");
        Crl = info.Options.GetValueOrDefault("sslcrl") is { } crl && File.Exists(crl) ? crl : null;
    }

    /// <summary>The effective sslmode.</summary>
    public string Mode { get; }

    /// <summary>The CA file to verify with ("system" for the system's CAs), or null when libpq would not verify.</summary>
    public string? RootCert { get; }

    /// <summary>The CA file libpq looks for (given or default), existing or not: for messages.</summary>
    public string? RootCertName { get; }

    public string? ClientCert { get; }

    public string? ClientKey { get; }

    public string? Crl { get; }

    public bool UsesTls => Mode != "disable";

    /// <summary>Whether libpq verifies the server's chain: verify-ca, verify-full, or any TLS mode with a CA file.</summary>
    public bool VerifiesChain => UsesTls && (Mode is "verify-ca" or "verify-full" || RootCert is not null);

    public static TlsPolicy For(PgConnectionInfo info) => new(info);

    /// <summary>
    /// Refuses, before connecting, what libpq refuses before connecting: a verifying sslmode without a CA file,
    /// <c>sslrootcert=system</c> with a mode weaker than verify-full, a client certificate without its key
    /// or with a key others can read.
    /// </summary>
    public void CheckFiles(string role)
    {
        if (!UsesTls)
        {
            return;
        }

        if (RootCert == "system" && Mode != "verify-full")
        {
            throw new UsageException($"sslrootcert=system needs sslmode=verify-full, not {Mode} ({role}): trusting every public CA is only safe when the host name is checked too.");
        }

        if (Mode is "verify-ca" or "verify-full" && RootCert is null)
        {
            throw new UsageException(
                $"sslmode={Mode} needs the CA certificate that signed the {role}'s server certificate, and {RootCertName ?? "~/.postgresql/root.crt"} does not exist: " +
                "give it with sslrootcert=PATH, or sslrootcert=system to trust the system's CAs.");
        }

        if (ClientCert is not null)
        {
            if (ClientKey is null || !File.Exists(ClientKey))
            {
                throw new UsageException($"The client certificate {ClientCert} ({role}) has no private key file {ClientKey ?? "postgresql.key"}: give it with sslkey=PATH.");
            }

            if (!OperatingSystem.IsWindows()
                && (File.GetUnixFileMode(ClientKey) & (UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)) != 0)
            {
                throw new UsageException($"The private key file {ClientKey} ({role}) can be read by other users, so libpq refuses it: chmod 600 {ClientKey}.");
            }
        }
    }

    /// <summary>
    /// Sets Npgsql's TLS settings. With <paramref name="withValidationCallback"/> the checks are the
    /// callback's (<see cref="Validate"/>) and Npgsql only encrypts; without it, Npgsql's own checks are
    /// used, as strict as it can express.
    /// </summary>
    public void ApplyTo(NpgsqlConnectionStringBuilder builder, bool withValidationCallback)
    {
        builder.SslMode = Mode switch
        {
            "disable" => SslMode.Disable,
            "allow" => SslMode.Allow,
            "prefer" => SslMode.Prefer,
            _ when withValidationCallback => SslMode.Require,
            "require" when RootCert is not null => SslMode.VerifyCA,
            "require" => SslMode.Require,
            "verify-ca" => SslMode.VerifyCA,
            _ => SslMode.VerifyFull,
        };
        builder.RootCertificate = !withValidationCallback && RootCert is not null && RootCert != "system" && builder.SslMode is SslMode.VerifyCA or SslMode.VerifyFull
            ? RootCert
            : null;

        if (UsesTls && ClientCert is not null)
        {
            builder.SslCertificate = ClientCert;
            builder.SslKey = ClientKey;
        }
    }

    /// <summary>
    /// The TLS of a session that takes no validation callback (the replication protocol's), once a probe session
    /// to the same server has passed <see cref="Validate"/>: plaintext where the probe was (libpq's prefer falls
    /// back to it, or the server has no TLS), else the driver's own chain check against the same CA whenever
    /// libpq verifies (prefer and require included).
    /// </summary>
    public void ApplyToReplication(NpgsqlConnectionStringBuilder builder, bool probeEncrypted)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!probeEncrypted)
        {
            builder.SslMode = SslMode.Disable;
            builder.RootCertificate = null;
            return;
        }

        if (VerifiesChain && builder.SslMode is SslMode.Prefer or SslMode.Require)
        {
            builder.SslMode = RootCert == "system" ? SslMode.VerifyFull : SslMode.VerifyCA;
            builder.RootCertificate = RootCert == "system" ? null : RootCert;
        }
    }

    /// <summary>The handshake's check of the server certificate, by libpq's rules.</summary>
    /// <exception cref="TlsVerificationException">The certificate fails a check; the message names it.</exception>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (!VerifiesChain)
        {
            return true;
        }

        if (certificate is null)
        {
            throw new TlsVerificationException("the server sent no certificate");
        }

        using var leaf = new X509Certificate2(certificate);
        using var built = new X509Chain();
        built.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            built.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        }

        var rootName = RootCert == "system" ? "the system's trusted CAs" : Path.GetFileName(RootCert);
        if (RootCert != "system")
        {
            var anchors = new X509Certificate2Collection();
            anchors.ImportFromPemFile(RootCert!);
            built.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            foreach (var ca in anchors)
            {
                (ca.SubjectName.RawData.AsSpan().SequenceEqual(ca.IssuerName.RawData) ? built.ChainPolicy.CustomTrustStore : built.ChainPolicy.ExtraStore).Add(ca);
            }
        }

        if (!built.Build(leaf))
        {
            var status = built.ChainStatus.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b);
            var hint = RootCert == "system" ? "use sslrootcert=PATH with the CA that signed it" : "give the CA that signed it with sslrootcert";
            throw new TlsVerificationException((status & X509ChainStatusFlags.NotTimeValid) != 0 && (status & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) == 0
                ? $"the server's certificate ({leaf.Subject}) has expired or is not valid yet (valid {leaf.NotBefore:yyyy-MM-dd} to {leaf.NotAfter:yyyy-MM-dd}): ask the provider to renew it"
                : $"the server's certificate ({leaf.Subject}) is not signed by {rootName} ({RootCert}, checked as libpq does with sslmode={Mode}): {hint}");
        }

        if (Crl is not null)
        {
            CheckRevocation(built);
        }

        if (Mode == "verify-full" && !HostMatches(leaf, _info.Host, out var names))
        {
            throw new TlsVerificationException(
                $"the server's certificate is for {(names.Count == 0 ? "no host name" : string.Join(", ", names))}, not {_info.Host} (sslmode=verify-full): connect with a host name the certificate names, or use sslmode=verify-ca");
        }

        return true;
    }

    private void CheckRevocation(X509Chain chain)
    {
        var text = File.ReadAllText(Crl!);
        var lists = new List<CertificateRevocationListBuilder>();
        if (text.Contains("-----BEGIN X509 CRL-----", StringComparison.Ordinal))
        {
            foreach (var block in text.Split("-----BEGIN X509 CRL-----", StringSplitOptions.RemoveEmptyEntries).Where(b => b.Contains("-----END X509 CRL-----", StringComparison.Ordinal)))
            {
                lists.Add(CertificateRevocationListBuilder.LoadPem("-----BEGIN X509 CRL-----" + block, out BigInteger _));
            }
        }
        else
        {
            lists.Add(CertificateRevocationListBuilder.Load(File.ReadAllBytes(Crl!), out BigInteger _));
        }

        foreach (var element in chain.ChainElements)
        {
            var serial = element.Certificate.SerialNumberBytes.ToArray();
            if (lists.Any(l => l.RemoveEntry(serial)))
            {
                throw new TlsVerificationException($"the certificate {element.Certificate.Subject} in the server's chain is revoked by {Path.GetFileName(Crl)} (sslcrl): ask the provider for its current certificate");
            }
        }
    }

    /// <summary>libpq's host name check: subjectAltNames of the host's kind, else the common name.</summary>
    internal static bool HostMatches(X509Certificate2 cert, string host, out List<string> names)
    {
        names = [];
        var isIp = IPAddress.TryParse(host, out var hostIp);
        var sawHostKind = false;
        var matched = false;
        foreach (var ext in cert.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            foreach (var dns in ext.EnumerateDnsNames())
            {
                names.Add(dns);
                sawHostKind |= !isIp;
                matched |= !isIp && NameMatches(dns, host);
            }

            foreach (var ip in ext.EnumerateIPAddresses())
            {
                names.Add(ip.ToString());
                sawHostKind |= isIp;
                matched |= isIp && ip.Equals(hostIp);
            }
        }

        if (!sawHostKind && cert.GetNameInfo(X509NameType.SimpleName, false) is { Length: > 0 } cn)
        {
            names.Add(cn);
            matched |= isIp ? IPAddress.TryParse(cn, out var cnIp) && cnIp.Equals(hostIp) : NameMatches(cn, host);
        }

        names = names.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return matched;
    }

    /// <summary>Case-insensitive; a leading <c>*.</c> matches exactly one non-empty label.</summary>
    private static bool NameMatches(string pattern, string host)
    {
        if (pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            var dot = host.IndexOf('.', StringComparison.Ordinal);
            return dot > 0 && string.Equals(pattern[1..], host[dot..], StringComparison.OrdinalIgnoreCase);
        }

        return string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);
    }

    private static string? DefaultFile(PgConnectionInfo info, string name) =>
        string.IsNullOrEmpty(info.Home) ? null : Path.Combine(info.Home, ".postgresql", name);
}

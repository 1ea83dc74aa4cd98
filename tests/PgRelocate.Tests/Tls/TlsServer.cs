using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Tls;

/// <summary>
/// A cluster with TLS on, for one test class. Its certificate, signed by <see cref="CaFile"/>, is for
/// <c>localhost</c> only, so that <c>127.0.0.1</c> with verify-full is a host name mismatch. The role
/// <see cref="CertUser"/> logs in with a client certificate alone (<c>hostssl ... cert</c>); everyone else
/// with a password, over TLS or not. It can stream its changes (wal_level logical). The certificates are made here, in memory, for each run.
/// </summary>
public sealed class TlsServer : PgServer, IDisposable
{
    public const string CertUser = "certuser";

    private readonly TempDir _files = new();
    private readonly Dictionary<string, string> _dataFiles = new(StringComparer.Ordinal);

    public TlsServer()
    {
        using var ca = MakeCa("PgRelocate test CA");
        using var otherCa = MakeCa("Someone else's CA");
        var (serverCert, serverKey) = MakeLeaf(ca, "localhost", server: true);
        _dataFiles["server.crt"] = serverCert;
        using (var issued = X509Certificate2.CreateFromPem(serverCert))
        {
            Write("revoked.crl", Crl(ca, issued.SerialNumberBytes.ToArray()));
            Write("clean.crl", Crl(ca, null));
        }

        _dataFiles["server.key"] = serverKey;
        _dataFiles["ca.crt"] = ca.ExportCertificatePem();
        Write("ca.crt", ca.ExportCertificatePem());
        Write("wrong-ca.crt", otherCa.ExportCertificatePem());
        WritePair("certuser", MakeLeaf(ca, CertUser, server: false));
        WritePair("stranger", MakeLeaf(ca, "stranger", server: false));
        WritePair("forged", MakeLeaf(otherCa, CertUser, server: false));
        WritePair("locked", MakeLeaf(ca, CertUser, server: false, KeyPassword));
        Secrets.Register(KeyPassword);
    }

    /// <summary>The passphrase of the client key "locked" (an encrypted PKCS#8 key).</summary>
    public const string KeyPassword = "open-sesame-42";

    public string Dir => _files.Path;

    /// <summary>The CA that signed the server's and the clients' certificates.</summary>
    public string CaFile => _files.File("ca.crt");

    /// <summary>A CA that signed nothing the server knows.</summary>
    public string WrongCaFile => _files.File("wrong-ca.crt");

    /// <summary>A CRL from the CA listing the server's certificate as revoked.</summary>
    public string RevokedCrlFile => _files.File("revoked.crl");

    /// <summary>A CRL from the CA listing nothing.</summary>
    public string CleanCrlFile => _files.File("clean.crl");

    public string CertFile(string name) => _files.File(name + ".crt");

    public string KeyFile(string name) => _files.File(name + ".key");

    protected override LocalClusterOptions Options => new()
    {
        Name = "tls",
        Settings = new Dictionary<string, string>
        {
            ["ssl"] = "on",
            ["ssl_cert_file"] = "'server.crt'",
            ["ssl_key_file"] = "'server.key'",
            ["ssl_ca_file"] = "'ca.crt'",
            // Online migrations from this server: a refusal must come before any slot or publication.
            ["wal_level"] = "logical",
        },
        HbaLines = [$"hostssl all {CertUser} 127.0.0.1/32 cert", $"host all {CertUser} 127.0.0.1/32 reject"],
        DataFiles = _dataFiles,
    };

    /// <summary>
    /// A URL for <paramref name="db"/>'s role and password on <paramref name="host"/> with the given query
    /// (sslmode=..., file names): the form a user pastes.
    /// </summary>
    public string Url(PgConnectionInfo db, string query, string host = "127.0.0.1") =>
        CliRunner.Url(db).Replace("@127.0.0.1:", "@" + host + ":", StringComparison.Ordinal).Replace("sslmode=disable", query, StringComparison.Ordinal);

    /// <summary>A URL logging in as <see cref="CertUser"/> with the client certificate <paramref name="cert"/> to <paramref name="database"/>.</summary>
    public string CertUrl(string database, string cert = "certuser", string query = "sslmode=verify-full", string host = "localhost") =>
        $"postgres://{CertUser}@{host}:{Cluster.Port}/{database}?{query}&sslrootcert={Uri.EscapeDataString(CaFile)}&sslcert={Uri.EscapeDataString(CertFile(cert))}&sslkey={Uri.EscapeDataString(KeyFile(cert))}";

    /// <summary>A database owned by <see cref="CertUser"/>, who logs in with the client certificate alone.</summary>
    public async Task<PgConnectionInfo> CreateCertDatabaseAsync(string prefix)
    {
        var db = await CreateDatabaseAsync(prefix, CertUser);
        return db;
    }

    public void Dispose() => _files.Dispose();

    private void Write(string name, string text) => File.WriteAllText(_files.File(name), text);

    private void WritePair(string name, (string Cert, string Key) pair)
    {
        Write(name + ".crt", pair.Cert);
        Write(name + ".key", pair.Key);
        File.SetUnixFileMode(KeyFile(name), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static string Crl(X509Certificate2 ca, byte[]? revokedSerial)
    {
        var builder = new CertificateRevocationListBuilder();
        if (revokedSerial is not null)
        {
            builder.AddEntry(revokedSerial, DateTimeOffset.UtcNow.AddMinutes(-5));
        }

        var der = builder.Build(ca, 1, DateTimeOffset.UtcNow.AddDays(7), HashAlgorithmName.SHA256);
        return PemEncoding.WriteString("X509 CRL", der) + "\n";
    }

    private static X509Certificate2 MakeCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        return req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(60));
    }

    private static (string Cert, string Key) MakeLeaf(X509Certificate2 ca, string name, bool server, string? keyPassword = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(name);
            req.CertificateExtensions.Add(san.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var cert = req.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), serial);
        return (cert.ExportCertificatePem(), keyPassword is null
            ? key.ExportPkcs8PrivateKeyPem()
            : key.ExportEncryptedPkcs8PrivateKeyPem(keyPassword, new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10000)));
    }
}

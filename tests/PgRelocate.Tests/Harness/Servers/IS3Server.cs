namespace PgRelocate.Tests.Harness.Servers;

/// <summary>An S3 server a test can point the tool at.</summary>
public interface IS3Server
{
    string Endpoint { get; }

    int Port { get; }

    string AccessKey { get; }

    string SecretKey { get; }

    /// <summary>False for servers that accept any signature (s3rver): never use those to prove security.</summary>
    bool ChecksSignatures { get; }

    int MinPartSize { get; }
}

using System.Security.Cryptography;
using PgRelocate.Tools;

namespace PgRelocate.Staging;

/// <summary>
/// Passes a download through and checks, when it ends, that its size and SHA-256 are the manifest's. A
/// mismatch fails the last read, so the reader (pg_restore) fails instead of finishing on a damaged archive.
/// </summary>
internal sealed class VerifyingStream(Stream inner, long expectedBytes, string expectedSha256, string display) : ReadOnlyStream
{
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _read;

    /// <summary>True once the whole stream was read and matched.</summary>
    public bool Verified { get; private set; }

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        _sha.AppendData(buffer.Span[..n]);
        _read += n;
        if (_read > expectedBytes)
        {
            throw new StagingException($"{display} is longer than its manifest says ({expectedBytes} bytes): it is not the archive the manifest describes.", exitCode: Errors.ExitCode.Usage);
        }

        if (n == 0 && !Verified)
        {
            var sha = Convert.ToHexStringLower(_sha.GetHashAndReset());
            if (_read != expectedBytes || !string.Equals(sha, expectedSha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new StagingException($"{display} does not match its manifest (size or SHA-256): the archive is damaged. Dump it again.", exitCode: Errors.ExitCode.Usage);
            }

            Verified = true;
        }

        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _sha.Dispose();
        }

        base.Dispose(disposing);
    }
}

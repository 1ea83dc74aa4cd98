using System.Buffers;
using System.Security.Cryptography;

namespace PgRelocate.Staging;

/// <summary>
/// A write-only stream into a store: bytes are cut into parts of <see cref="IUpload.PartSize"/> and each
/// full part is uploaded before more is accepted, so memory stays at one part whatever the archive's size.
/// The SHA-256 and the byte count are computed on the way. <see cref="CommitAsync"/> publishes the object
/// under its final key; disposing without a commit aborts the upload, so a failed dump never leaves a
/// half object behind.
/// </summary>
internal sealed class StagingWriter : Stream
{
    private readonly IUpload _upload;
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _buffer;
    private int _filled;
    private int _parts;
    private long _uploaded;
    private bool _committed;
    private bool _disposed;

    // The record of the upload in the state folder, so a killed process's parts can be aborted later.
    private readonly string? _pending;

    private StagingWriter(IStagingStore store, string key, IUpload upload)
    {
        Store = store;
        Key = key;
        _upload = upload;
        _buffer = ArrayPool<byte>.Shared.Rent(upload.PartSize);
        _pending = upload.Id is { } id ? PendingUploads.Remember(store, key, id) : null;
    }

    public IStagingStore Store { get; }

    public string Key { get; }

    /// <summary>Bytes written so far.</summary>
    public long BytesWritten => _uploaded + _filled;

    /// <summary>The SHA-256 of everything written, lowercase hex; available after <see cref="CommitAsync"/>.</summary>
    public string? Sha256 { get; private set; }

    public static async Task<StagingWriter> CreateAsync(IStagingStore store, string key, UploadOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var upload = await store.StartUploadAsync(key, options, cancellationToken);
        return new StagingWriter(store, key, upload);
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !_committed && !_disposed;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_committed)
        {
            throw new InvalidOperationException("The upload was already committed.");
        }

        _sha.AppendData(buffer.Span);
        while (buffer.Length > 0)
        {
            var n = Math.Min(buffer.Length, _upload.PartSize - _filled);
            buffer[..n].CopyTo(_buffer.AsMemory(_filled));
            _filled += n;
            buffer = buffer[n..];
            if (_filled == _upload.PartSize)
            {
                await FlushPartAsync(cancellationToken);
            }
        }
    }

    /// <summary>Uploads what is buffered and publishes the object under its final key.</summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_filled > 0 || _parts == 0)
        {
            await FlushPartAsync(cancellationToken);
        }

        await _upload.CompleteAsync(_parts, _uploaded, cancellationToken);
        Sha256 = Convert.ToHexStringLower(_sha.GetHashAndReset());
        _committed = true;
        Forget();
    }

    public override void Flush()
    {
        // Parts are uploaded when full; a partial part is only sent by CommitAsync, since every part but the last must be full.
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (!_committed)
            {
                // Not committed means the archive is incomplete: discard it even if the caller is being cancelled.
                await _upload.AbortAsync(CancellationToken.None);
                Forget();
            }

            Release();
        }

        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            if (!_committed)
            {
                _upload.AbortAsync(CancellationToken.None).GetAwaiter().GetResult();
                Forget();
            }

            Release();
        }

        base.Dispose(disposing);
    }

    private void Forget()
    {
        if (_pending is not null)
        {
            PendingUploads.Forget(_pending);
        }
    }

    private void Release()
    {
        _sha.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
    }

    private async Task FlushPartAsync(CancellationToken cancellationToken)
    {
        _parts++;
        await _upload.UploadPartAsync(_parts, _uploaded, _buffer.AsMemory(0, _filled), cancellationToken);
        _uploaded += _filled;
        _filled = 0;
    }
}

using PgRelocate.Tools;

namespace PgRelocate.Restore;

/// <summary>
/// A local file an archive is written into (by a dump or a download) while restores already read it: each
/// reader follows the file and waits at its end for more, until the writer completes it or fails. This is
/// what lets a parallel restore start before the archive is whole.
/// </summary>
public sealed class ArchiveSpool : IAsyncDisposable
{
    private readonly FileStream _file;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _more = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;
    private Exception? _error;

    /// <summary>Creates <paramref name="path"/> (owner-only), replacing what an interrupted run left there.</summary>
    public ArchiveSpool(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            // Unbuffered: every write reaches the file at once, where the readers see it.
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        Writer = new SpoolWriter(this);
    }

    public string Path { get; }

    /// <summary>Where the archive is written. Call <see cref="Complete"/> or <see cref="Fail"/> when it ends.</summary>
    public Stream Writer { get; }

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Completes when the whole archive is in the file; faults with the writer's error.</summary>
    public Task Completion => _done.Task;

    public void Complete()
    {
        _file.Flush();
        _done.TrySetResult();
        Signal();
    }

    public void Fail(Exception error)
    {
        _error = error;
        _done.TrySetException(error);
        Signal();
    }

    /// <summary>A reader from the first byte that waits for the writer at the end of what is written so far.</summary>
    public Stream OpenReader() => new Follower(this);

    public async ValueTask DisposeAsync()
    {
        if (!_done.Task.IsCompleted)
        {
            Fail(new OperationCanceledException("The archive was abandoned before it was complete."));
        }

        _ = _done.Task.Exception; // observed: the writer's error is reported where it happened
        await _file.DisposeAsync();
    }

    private void Signal() => Interlocked.Exchange(ref _more, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until more than <paramref name="position"/> bytes are written, or the archive ends.</summary>
    private async Task<bool> WaitAsync(long position, CancellationToken cancellationToken)
    {
        while (true)
        {
            // The signal first, then the state: a write that lands in between has completed this signal.
            var signal = Volatile.Read(ref _more).Task;
            if (Written > position)
            {
                return true;
            }

            if (_error is { } error)
            {
                throw new IOException("The archive did not arrive whole: " + error.Message, error);
            }

            if (_done.Task.IsCompleted)
            {
                return false;
            }

            await signal.WaitAsync(cancellationToken);
        }
    }

    private sealed class SpoolWriter(ArchiveSpool spool) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => spool.Written;

        public override long Position { get => spool.Written; set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await spool._file.WriteAsync(buffer, cancellationToken);
            Interlocked.Add(ref spool._written, buffer.Length);
            spool.Signal();
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private sealed class Follower(ArchiveSpool spool) : ReadOnlyStream
    {
        private readonly FileStream _file = new(spool.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.Asynchronous);
        private long _position;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.Length == 0 || !await spool.WaitAsync(_position, cancellationToken))
            {
                return 0;
            }

            var available = spool.Written - _position;
            var n = await _file.ReadAsync(buffer[..(int)Math.Min(buffer.Length, available)], cancellationToken);
            _position += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _file.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

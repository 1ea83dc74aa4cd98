using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Staging.Retry;

/// <summary>
/// A read stream that survives dropped connections: when a read fails with a transient error (or the body
/// ends early), it reopens the object from the last byte received with a Range request, a bounded number of
/// times with backoff. The consumer sees one unbroken stream.
/// </summary>
internal sealed class ResumingReadStream : ReadOnlyStream
{
    private readonly Func<long, CancellationToken, Task<Stream>> _open;
    private readonly RetryPolicy _policy;
    private readonly string _display;
    private readonly long? _expectedLength;
    private Stream _current;
    private long _position;

    public ResumingReadStream(Stream first, long offset, Func<long, CancellationToken, Task<Stream>> open, RetryPolicy policy, string display, long? expectedLength = null)
    {
        _current = first;
        _position = offset;
        _open = open;
        _policy = policy;
        _display = display;
        _expectedLength = expectedLength;
    }

    /// <summary>How many times the stream reconnected.</summary>
    public int Resumes { get; private set; }

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        for (var failures = 0; ; )
        {
            try
            {
                var n = await _current.ReadAsync(buffer, cancellationToken);
                if (n == 0 && _expectedLength is { } len && _position < len)
                {
                    throw new IOException("The connection closed before the end of the object.");
                }

                _position += n;
                return n;
            }
            catch (Exception e) when (Transience.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                failures++;
                if (failures >= _policy.MaxAttempts)
                {
                    throw new StagingException(
                        $"Reading {_display} failed {failures} times in a row at byte {_position}: check the network and run the command again.",
                        transient: true,
                        e);
                }

                var delay = _policy.Delay(failures);
                _policy.Reporter.Warn($"Download of {_display} interrupted at byte {_position} ({RetryPolicy.Describe(e)}); resuming in {Progress.Units.Duration(delay)}.");
                await Task.Delay(delay, cancellationToken);
                await _current.DisposeAsync();
                try
                {
                    _current = await _open(_position, cancellationToken);
                    Resumes++;
                }
                catch (Exception reopen) when (Transience.IsTransient(reopen))
                {
                    // Keep a stream that fails, so the next loop turn counts this failure and backs off again.
                    _current = new FailingStream(reopen);
                }
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class FailingStream(Exception error) : ReadOnlyStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<int>(new IOException("Reconnect failed.", error));
    }
}

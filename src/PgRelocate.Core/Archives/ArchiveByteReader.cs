using System.Buffers;
using System.Text;

namespace PgRelocate.Archives;

/// <summary>
/// Reads pg_dump's primitives from a stream. An int is a sign byte (from format 1.1) and <see cref="IntSize"/>
/// bytes, least significant first; a string is an int length (negative: null) and that many bytes.
/// A stream that can seek (a file) is read ahead into a buffer, so each primitive is taken from memory without a
/// call to the stream: a table of contents of thousands of entries is tens of thousands of primitives, and one
/// stream call each took a tenth of a second at 4,000 entries. <see cref="Rewind"/> gives back what was read past
/// the last primitive. A stream that cannot seek (a pipe, a download, a file still being written) is asked for
/// exactly the bytes each primitive needs, so the caller can go on reading its data from where the table of
/// contents ends, and reading never waits for bytes the table of contents does not hold.
/// </summary>
internal sealed class ArchiveByteReader(Stream stream, string display)
{
    /// <summary>Longer strings are read piecewise, so a damaged length meets the end of the file before memory runs out.</summary>
    private const int Piece = 1 << 20;

    private readonly byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;

    /// <summary>The bytes taken so far.</summary>
    public long Position { get; private set; }

    public int IntSize { get; set; } = 4;

    public bool SignByte { get; set; } = true;

    /// <summary>What is being read, for the message when the bytes stop ("the archive header").</summary>
    public string Where { get; set; } = "the archive header";

    public Encoding Text { get; set; } = new UTF8Encoding(false, false);

    private int Buffered => _end - _start;

    /// <summary>Reads up to <paramref name="buffer"/>'s length; fewer only at the end of the stream.</summary>
    public async ValueTask<int> ReadSomeAsync(Memory<byte> buffer, CancellationToken ct)
    {
        var n = Math.Min(Buffered, buffer.Length);
        _buffer.AsSpan(_start, n).CopyTo(buffer.Span);
        _start += n;
        if (n < buffer.Length)
        {
            n += await stream.ReadAtLeastAsync(buffer[n..], buffer.Length - n, throwOnEndOfStream: false, ct);
        }

        Position += n;
        return n;
    }

    public ValueTask ReadExactlyAsync(Memory<byte> buffer, CancellationToken ct)
    {
        if (Buffered >= buffer.Length)
        {
            Take(buffer.Length).CopyTo(buffer.Span);
            return ValueTask.CompletedTask;
        }

        return SlowAsync(buffer, ct);

        async ValueTask SlowAsync(Memory<byte> buffer, CancellationToken ct)
        {
            if (buffer.Length <= _buffer.Length)
            {
                await FillAsync(buffer.Length, ct);
                Take(buffer.Length).CopyTo(buffer.Span);
            }
            else if (await ReadSomeAsync(buffer, ct) < buffer.Length)
            {
                throw Damaged($"it ends inside {Where}");
            }
        }
    }

    public ValueTask<byte> ByteAsync(CancellationToken ct)
    {
        return Buffered >= 1 ? ValueTask.FromResult(Take(1)[0]) : SlowAsync(ct);

        async ValueTask<byte> SlowAsync(CancellationToken ct)
        {
            await FillAsync(1, ct);
            return Take(1)[0];
        }
    }

    public ValueTask<long> IntAsync(CancellationToken ct)
    {
        var length = IntSize + (SignByte ? 1 : 0);
        return Buffered >= length ? ValueTask.FromResult(Int(Take(length))) : SlowAsync(length, ct);

        async ValueTask<long> SlowAsync(int length, CancellationToken ct)
        {
            await FillAsync(length, ct);
            return Int(Take(length));
        }
    }

    /// <summary>Reads an offset: a flag byte (not set, set, no data) and offset-size bytes, least significant first.</summary>
    public async ValueTask<(int Flag, long Value)> OffsetAsync(int offsetSize, CancellationToken ct)
    {
        await FillAsync(1 + offsetSize, ct);
        var bytes = Take(1 + offsetSize);
        long value = 0;
        for (var i = 0; i < offsetSize; i++)
        {
            if (i < 8)
            {
                value |= (long)bytes[1 + i] << (8 * i);
            }
            else if (bytes[1 + i] != 0)
            {
                throw Damaged("a data offset is too large");
            }
        }

        return (bytes[0], value);
    }

    public ValueTask<byte[]?> BytesAsync(CancellationToken ct)
    {
        var intLength = IntSize + (SignByte ? 1 : 0);
        if (Buffered >= intLength)
        {
            var length = Int(_buffer.AsSpan(_start, intLength));
            if (length < 0)
            {
                Take(intLength);
                return ValueTask.FromResult<byte[]?>(null);
            }

            if (Buffered - intLength >= length)
            {
                Take(intLength);
                return ValueTask.FromResult<byte[]?>(Take((int)length).ToArray());
            }
        }

        return SlowAsync(ct);

        async ValueTask<byte[]?> SlowAsync(CancellationToken ct)
        {
            var length = await IntAsync(ct);
            if (length < 0)
            {
                return null;
            }

            if (length > int.MaxValue - 64)
            {
                throw Damaged($"a string of {length} bytes in {Where}");
            }

            if (length <= Piece)
            {
                var bytes = new byte[length];
                await ReadExactlyAsync(bytes, ct);
                return bytes;
            }

            var pieces = new ArrayBufferWriter<byte>(Piece);
            var left = (int)length;
            while (left > 0)
            {
                var n = Math.Min(left, Piece);
                await ReadExactlyAsync(pieces.GetMemory(n)[..n], ct);
                pieces.Advance(n);
                left -= n;
            }

            return pieces.WrittenSpan.ToArray();
        }
    }

    public ValueTask<string?> StringAsync(CancellationToken ct)
    {
        var bytes = BytesAsync(ct);
        return bytes.IsCompletedSuccessfully ? ValueTask.FromResult(Decode(bytes.Result)) : SlowAsync(bytes);

        async ValueTask<string?> SlowAsync(ValueTask<byte[]?> bytes) => Decode(await bytes);
    }

    /// <summary>Gives back the bytes read ahead past <see cref="Position"/>, leaving the stream there.</summary>
    public void Rewind()
    {
        if (Buffered > 0 && stream.CanSeek)
        {
            stream.Seek(-Buffered, SeekOrigin.Current);
            _start = _end = 0;
        }
    }

    public Errors.UsageException Damaged(string what) => ArchiveDamage.Error(display, what);

    /// <summary>Decodes one int as pg_dump's ReadInt does: any non-zero sign byte means negative.</summary>
    public static long DecodeInt(ReadOnlySpan<byte> bytes, bool signByte)
    {
        var negative = signByte && bytes[0] != 0;
        var digits = signByte ? bytes[1..] : bytes;
        long value = 0;
        for (var i = 0; i < digits.Length && i < 8; i++)
        {
            value |= (long)digits[i] << (8 * i);
        }

        return negative ? -value : value;
    }

    private string? Decode(byte[]? bytes) => bytes is null ? null : Text.GetString(bytes);

    private long Int(ReadOnlySpan<byte> bytes)
    {
        if (SignByte && bytes[0] > 1)
        {
            throw Damaged($"a number in {Where} has the sign byte {bytes[0]}");
        }

        return DecodeInt(bytes, SignByte);
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        var span = _buffer.AsSpan(_start, n);
        _start += n;
        Position += n;
        return span;
    }

    /// <summary>
    /// Makes at least <paramref name="need"/> bytes (at most the buffer's size) buffered; from a stream that can seek,
    /// what it has beyond them too, up to the buffer's end.
    /// </summary>
    private async ValueTask FillAsync(int need, CancellationToken ct)
    {
        if (Buffered >= need)
        {
            return;
        }

        if (_start > 0)
        {
            _buffer.AsSpan(_start, Buffered).CopyTo(_buffer);
            (_start, _end) = (0, Buffered);
        }

        var room = stream.CanSeek ? _buffer.Length - _end : need - _end;
        _end += await stream.ReadAtLeastAsync(_buffer.AsMemory(_end, room), need - _end, throwOnEndOfStream: false, ct);
        if (_end < need)
        {
            throw Damaged($"it ends inside {Where}");
        }
    }
}

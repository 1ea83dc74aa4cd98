using System.Buffers;
using System.Text;

namespace PgRelocate.Archives;

/// <summary>
/// Reads pg_dump's primitives from a stream, asking it for exactly the bytes each one needs so the caller can
/// stop at the end of the table of contents of a download or a file still being written. An int is a sign
/// byte (from format 1.1) and <see cref="IntSize"/> bytes, least significant first; a string is an int length
/// (negative: null) and that many bytes.
/// </summary>
internal sealed class ArchiveByteReader(Stream stream, string display)
{
    /// <summary>Longer strings are read piecewise, so a damaged length meets the end of the file before memory runs out.</summary>
    private const int Piece = 1 << 20;

    private readonly byte[] _small = new byte[16];

    public long Position { get; private set; }

    public int IntSize { get; set; } = 4;

    public bool SignByte { get; set; } = true;

    /// <summary>What is being read, for the message when the bytes stop ("the archive header").</summary>
    public string Where { get; set; } = "the archive header";

    public Encoding Text { get; set; } = new UTF8Encoding(false, false);

    /// <summary>Reads up to <paramref name="buffer"/>'s length; fewer only at the end of the stream.</summary>
    public async ValueTask<int> ReadSomeAsync(Memory<byte> buffer, CancellationToken ct)
    {
        var n = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
        Position += n;
        return n;
    }

    public async ValueTask ReadExactlyAsync(Memory<byte> buffer, CancellationToken ct)
    {
        if (await ReadSomeAsync(buffer, ct) < buffer.Length)
        {
            throw ArchiveDamage.Error(display, $"it ends inside {Where}");
        }
    }

    public async ValueTask<byte> ByteAsync(CancellationToken ct)
    {
        await ReadExactlyAsync(_small.AsMemory(0, 1), ct);
        return _small[0];
    }

    public async ValueTask<long> IntAsync(CancellationToken ct)
    {
        var length = IntSize + (SignByte ? 1 : 0);
        await ReadExactlyAsync(_small.AsMemory(0, length), ct);
        if (SignByte && _small[0] > 1)
        {
            throw Damaged($"a number in {Where} has the sign byte {_small[0]}");
        }

        return DecodeInt(_small.AsSpan(0, length), SignByte);
    }

    /// <summary>Reads an offset: a flag byte (not set, set, no data) and offset-size bytes, least significant first.</summary>
    public async ValueTask<(int Flag, long Value)> OffsetAsync(int offsetSize, CancellationToken ct)
    {
        await ReadExactlyAsync(_small.AsMemory(0, 1 + offsetSize), ct);
        long value = 0;
        for (var i = 0; i < offsetSize; i++)
        {
            if (i < 8)
            {
                value |= (long)_small[1 + i] << (8 * i);
            }
            else if (_small[1 + i] != 0)
            {
                throw Damaged("a data offset is too large");
            }
        }

        return (_small[0], value);
    }

    public async ValueTask<byte[]?> BytesAsync(CancellationToken ct)
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

    public async ValueTask<string?> StringAsync(CancellationToken ct) =>
        await BytesAsync(ct) is { } bytes ? Text.GetString(bytes) : null;

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
}

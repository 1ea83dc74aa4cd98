using System.Buffers.Binary;

namespace PgRelocate.Copy;

/// <summary>
/// Counts the rows of a binary COPY stream as it passes through, for progress and the end-of-run table.
/// It reads only the frame (tuple field counts and field lengths) and skips every value: the bytes are
/// forwarded untouched, never decoded. Format: an 11-byte signature, flags, a header extension, then per
/// tuple an int16 field count (-1 ends the stream) and per field an int32 length (-1 is NULL) and the value.
/// </summary>
internal sealed class BinaryCopyRowCounter
{
    private const int SignatureAndFlags = 11 + 4;

    private readonly byte[] _pending = new byte[4];
    private State _state = State.Header;
    private int _pendingCount;
    private long _skip = SignatureAndFlags;
    private int _fieldsLeft;

    private enum State
    {
        Header,
        ExtensionLength,
        TupleFieldCount,
        FieldLength,
        Done,
    }

    public long Rows { get; private set; }

    public void Feed(ReadOnlySpan<byte> data)
    {
        while (data.Length > 0 && _state != State.Done)
        {
            if (_state == State.TupleFieldCount && _skip == 0 && _pendingCount == 0)
            {
                // Between rows: the rows that lie whole in this buffer are counted in one pass, the one cut by its
                // end goes through the states below.
                data = data[WholeRows(data)..];
                if (data.Length == 0)
                {
                    break;
                }
            }

            if (_skip > 0)
            {
                var n = (int)Math.Min(_skip, data.Length);
                _skip -= n;
                data = data[n..];
                continue;
            }

            switch (_state)
            {
                case State.Header:
                    _state = State.ExtensionLength;
                    break;
                case State.ExtensionLength:
                    if (TryTake(ref data, 4, out var ext))
                    {
                        _skip = BinaryPrimitives.ReadInt32BigEndian(ext);
                        _state = State.TupleFieldCount;
                    }

                    break;
                case State.TupleFieldCount:
                    if (TryTake(ref data, 2, out var count))
                    {
                        var fields = BinaryPrimitives.ReadInt16BigEndian(count);
                        if (fields < 0)
                        {
                            _state = State.Done;
                        }
                        else
                        {
                            Rows++;
                            _fieldsLeft = fields;
                            _state = fields == 0 ? State.TupleFieldCount : State.FieldLength;
                        }
                    }

                    break;
                case State.FieldLength:
                    if (TryTake(ref data, 4, out var length))
                    {
                        _skip = Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(length));
                        _state = --_fieldsLeft == 0 ? State.TupleFieldCount : State.FieldLength;
                    }

                    break;
            }
        }
    }

    /// <summary>Counts the rows that lie whole at the start of <paramref name="data"/> and returns the bytes they take.</summary>
    private int WholeRows(ReadOnlySpan<byte> data)
    {
        var at = 0;
        while (data.Length - at >= 2)
        {
            var fields = BinaryPrimitives.ReadInt16BigEndian(data[at..]);
            if (fields < 0)
            {
                break;
            }

            var end = at + 2;
            for (var f = 0; f < fields; f++)
            {
                if (data.Length - end < 4)
                {
                    return at;
                }

                var next = end + 4L + Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(data[end..]));
                if (next > data.Length)
                {
                    return at;
                }

                end = (int)next;
            }

            at = end;
            Rows++;
        }

        return at;
    }

    /// <summary>Takes a big-endian number that may straddle two buffers.</summary>
    private bool TryTake(ref ReadOnlySpan<byte> data, int size, out ReadOnlySpan<byte> value)
    {
        if (_pendingCount == 0 && data.Length >= size)
        {
            value = data[..size];
            data = data[size..];
            return true;
        }

        var n = Math.Min(size - _pendingCount, data.Length);
        data[..n].CopyTo(_pending.AsSpan(_pendingCount));
        _pendingCount += n;
        data = data[n..];
        if (_pendingCount < size)
        {
            value = default;
            return false;
        }

        _pendingCount = 0;
        value = _pending.AsSpan(0, size);
        return true;
    }
}

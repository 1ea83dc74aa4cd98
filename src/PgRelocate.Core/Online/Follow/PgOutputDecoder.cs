using System.Buffers.Binary;
using System.Text;

namespace PgRelocate.Online.Follow;

/// <summary>
/// Turns the messages of PostgreSQL's pgoutput plugin (protocol versions 1 and 2, text values) into
/// <see cref="Change"/>s: one message in, at most one change out. It remembers the tables the stream describes
/// and whether a streamed transaction's block is open, so its input is the stream's bytes alone: a live session
/// and a recorded one go through the same code (the tests replay recorded sessions through it).
/// Message layouts: "Logical Replication Message Formats" in PostgreSQL's documentation.
/// </summary>
internal sealed class PgOutputDecoder
{
    private static readonly DateTime PostgresEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly Dictionary<uint, SourceRelation> _relations = [];
    private readonly string _markerPrefix;

    public PgOutputDecoder(string markerPrefix = OnlineNames.MarkerPrefix) => _markerPrefix = markerPrefix;

    /// <summary>The streamed transaction whose block is open (between its stream start and stop), or null.</summary>
    public uint? Streaming { get; private set; }

    /// <summary>True when the last message ended a transaction, or none came yet (and no streamed block is open).</summary>
    public bool BetweenTransactions { get; private set; } = true;

    /// <summary>The change one message carries, or null for those that carry none (a table's description, a type, an origin, a block's start or stop).</summary>
    /// <param name="walStart">Where the message is in the source's WAL (kept on a streamed transaction's changes).</param>
    public Change? Decode(ReadOnlySpan<byte> message, ulong walStart)
    {
        var r = new Reader(message);
        var kind = (char)r.Byte();
        var inStream = Streaming is not null;
        Change? change;
        uint? subXid = null;
        switch (kind)
        {
            case 'B':
                change = new BeginChange(r.UInt64(), r.Timestamp());
                break;
            case 'C':
                r.Byte();
                change = new CommitChange(r.UInt64(), r.UInt64(), r.Timestamp());
                break;
            case 'S':
                Streaming = r.UInt32();
                BetweenTransactions = false;
                return null;
            case 'E':
                Streaming = null;
                BetweenTransactions = true;
                return null;
            case 'c':
            {
                var xid = r.UInt32();
                r.Byte();
                change = new StreamCommitChange(xid, r.UInt64(), r.UInt64(), r.Timestamp());
                break;
            }

            case 'A':
                change = new StreamAbortChange(r.UInt32(), r.UInt32());
                break;
            case 'R':
                SkipXid(ref r, inStream);
                Remember(ref r);
                return null;
            case 'I':
            {
                subXid = SkipXid(ref r, inStream);
                var relation = Relation(r.UInt32());
                r.Byte(); // 'N'
                change = new InsertChange(relation, ReadRow(ref r));
                break;
            }

            case 'U':
                subXid = SkipXid(ref r, inStream);
                change = ReadUpdate(ref r);
                break;
            case 'D':
            {
                subXid = SkipXid(ref r, inStream);
                var relation = Relation(r.UInt32());
                var full = (char)r.Byte() == 'O';
                change = new DeleteChange(relation, ReadRow(ref r), full);
                break;
            }

            case 'T':
            {
                subXid = SkipXid(ref r, inStream);
                var count = r.Int32();
                var options = r.Byte();
                var relations = new List<SourceRelation>(count);
                for (var i = 0; i < count; i++)
                {
                    relations.Add(Relation(r.UInt32()));
                }

                change = new TruncateChange(relations, (options & 1) != 0, (options & 2) != 0);
                break;
            }

            case 'M':
            {
                subXid = SkipXid(ref r, inStream);
                r.Byte(); // flags: 1 when transactional
                r.UInt64();
                var prefix = r.CString();
                var content = r.Bytes(r.Int32());
                if (prefix != _markerPrefix)
                {
                    return null;
                }

                change = new MarkerChange(Encoding.UTF8.GetString(content));
                break;
            }

            default:
                // 'Y' (a type), 'O' (an origin) and what later protocol versions add: nothing to apply.
                return null;
        }

        if (Streaming is { } streamed && change is not (StreamCommitChange or StreamAbortChange))
        {
            return new StreamedChange(streamed, subXid ?? streamed, change, walStart);
        }

        BetweenTransactions = change is CommitChange or StreamCommitChange or StreamAbortChange;
        return change;
    }

    /// <summary>Inside a streamed transaction's block, a message starts with its (sub)transaction's id.</summary>
    private static uint? SkipXid(ref Reader r, bool inStream) => inStream ? r.UInt32() : null;

    private SourceRelation Relation(uint id) =>
        _relations.TryGetValue(id, out var relation)
            ? relation
            : throw new InvalidDataException($"The change stream used table {id} before describing it.");

    private void Remember(ref Reader r)
    {
        var id = r.UInt32();
        var schema = r.CString();
        var name = r.CString();
        r.Byte(); // replica identity setting
        var count = r.Int16();
        var columns = new List<string>(count);
        var key = new List<bool>(count);
        var types = new List<uint>(count);
        var modifiers = new List<int>(count);
        for (var i = 0; i < count; i++)
        {
            key.Add((r.Byte() & 1) != 0);
            columns.Add(r.CString());
            types.Add(r.UInt32());
            modifiers.Add(r.Int32());
        }

        // An empty namespace is pg_catalog's, as the protocol says.
        _relations[id] = new SourceRelation(id, schema.Length == 0 ? "pg_catalog" : schema, name, columns, key, types, modifiers);
    }

    private UpdateChange ReadUpdate(ref Reader r)
    {
        var relation = Relation(r.UInt32());
        var tag = (char)r.Byte();
        RowValues? old = null;
        var full = false;
        if (tag is 'K' or 'O')
        {
            full = tag == 'O';
            old = ReadRow(ref r);
            r.Byte(); // 'N'
        }

        return new UpdateChange(relation, old, full, ReadRow(ref r));
    }

    private static RowValues ReadRow(ref Reader r)
    {
        var count = r.Int16();
        var values = new string?[count];
        var unchanged = new bool[count];
        for (var i = 0; i < count; i++)
        {
            switch ((char)r.Byte())
            {
                case 'n':
                    break;
                case 'u':
                    unchanged[i] = true;
                    break;
                case 't':
                    values[i] = Encoding.UTF8.GetString(r.Bytes(r.Int32()));
                    break;
                case var other:
                    throw new InvalidDataException($"The change stream sent a value of kind '{other}', which this reader does not take (text values only).");
            }
        }

        return new RowValues(values, unchanged);
    }

    /// <summary>Reads the protocol's big-endian integers and NUL-terminated strings from one message.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public byte Byte() => _data[_at++];

        public short Int16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

        public int Int32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

        public uint UInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

        public ulong UInt64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

        /// <summary>Microseconds since 2000-01-01 UTC.</summary>
        public DateTime Timestamp() => PostgresEpoch.AddTicks(BinaryPrimitives.ReadInt64BigEndian(Take(8)) * 10);

        public ReadOnlySpan<byte> Bytes(int length) => Take(length);

        public string CString()
        {
            var end = _data[_at..].IndexOf((byte)0);
            if (end < 0)
            {
                throw new InvalidDataException("The change stream sent a name without its end.");
            }

            var text = Encoding.UTF8.GetString(_data.Slice(_at, end));
            _at += end + 1;
            return text;
        }

        private ReadOnlySpan<byte> Take(int length)
        {
            if (_at + length > _data.Length)
            {
                throw new InvalidDataException("The change stream sent a message shorter than its contents.");
            }

            var span = _data.Slice(_at, length);
            _at += length;
            return span;
        }
    }
}

using PgRelocate.Errors;

namespace PgRelocate.Archives;

/// <summary>
/// Checks the framing of the data blocks after the table of contents, as pg_backup_custom.c writes them: a
/// block-type byte (data or large objects), the dump id of an entry that has data, then chunks (an int length
/// and that many bytes) ended by a zero length; a large-object block holds (oid, chunks, 0) repeated and ends
/// with oid 0. Every block must be complete, nothing may follow the last one, each entry with data must have
/// its block once, where the table of contents says it starts. Chunks are skipped, not decompressed, and
/// memory stays constant: a push parser fed the bytes in order, in pieces of any size, as they arrive.
/// </summary>
internal sealed class ArchiveFramingCheck
{
    private readonly ArchiveContents _contents;
    private readonly string _display;
    private readonly bool _signByte;
    private readonly int _intLength;
    private readonly bool _blockTypes;
    private readonly HashSet<int> _seen = [];
    private readonly List<(int Id, long Start)> _blocks = [];
    private readonly byte[] _int = new byte[9];
    private int _intHave;
    private State _state = State.BlockType;
    private byte _blockType = ArchiveFormat.BlockData;
    private long _blockStart;
    private ArchiveEntry? _current;
    private bool _inLargeObject;
    private long _largeObject;
    private long _left;

    public ArchiveFramingCheck(ArchiveContents contents, string display)
    {
        _contents = contents;
        _display = display;
        var h = contents.Header;
        var version = ArchiveFormat.Version(h.FormatMajor, h.FormatMinor, h.FormatRevision);
        _signByte = ArchiveFormat.HasSignByte(version);
        _intLength = h.IntSize + (_signByte ? 1 : 0);
        _blockTypes = version >= ArchiveFormat.Version(1, 3);
    }

    private enum State
    {
        BlockType,
        BlockId,
        ChunkLength,
        ChunkBytes,
        LargeObjectOid,
    }

    /// <summary>How many bytes after the table of contents have been checked.</summary>
    public long BytesChecked { get; private set; }

    private long Position => _contents.DataStart + BytesChecked;

    /// <summary>Checks the next bytes of the archive, which follow those fed before (the first at <see cref="ArchiveContents.DataStart"/>).</summary>
    public void Feed(ReadOnlySpan<byte> bytesAfterToc)
    {
        while (!bytesAfterToc.IsEmpty)
        {
            switch (_state)
            {
                case State.BlockType:
                    _blockStart = Position;
                    _state = State.BlockId;
                    if (_blockTypes)
                    {
                        _blockType = bytesAfterToc[0];
                        Take(ref bytesAfterToc, 1);
                        if (_blockType is not (ArchiveFormat.BlockData or ArchiveFormat.BlockLargeObjects))
                        {
                            throw Damaged($"byte {_blockStart} should start a data block but holds {_blockType}");
                        }
                    }

                    break;

                case State.ChunkBytes:
                    var n = (int)Math.Min(_left, bytesAfterToc.Length);
                    Take(ref bytesAfterToc, n);
                    _left -= n;
                    if (_left == 0)
                    {
                        _state = State.ChunkLength;
                    }

                    break;

                default:
                    var want = Math.Min(_intLength - _intHave, bytesAfterToc.Length);
                    bytesAfterToc[..want].CopyTo(_int.AsSpan(_intHave));
                    _intHave += want;
                    Take(ref bytesAfterToc, want);
                    if (_intHave == _intLength)
                    {
                        _intHave = 0;
                        if (_signByte && _int[0] > 1)
                        {
                            throw Damaged($"{Inside()} holds a number with the sign byte {_int[0]}");
                        }

                        OnInt(ArchiveByteReader.DecodeInt(_int.AsSpan(0, _intLength), _signByte));
                    }

                    break;
            }
        }
    }

    /// <summary>
    /// The bytes each entry's data block takes in the file (by dump id), from its start to the next block's or the
    /// archive's end: compressed as the archive holds them. Known once <see cref="Complete"/> has passed.
    /// </summary>
    public IReadOnlyDictionary<int, long> DataBytes { get; private set; } = new Dictionary<int, long>();

    /// <summary>Says the archive ended where it may end, and every entry with data had its block.</summary>
    public void Complete()
    {
        if (_state != State.BlockType)
        {
            throw Damaged($"it ends inside {Inside()}");
        }

        // An archive written to a file says where every block starts; one written to a pipe cannot, and then
        // every entry with data must have one. (A file's entry without an offset had its data left out.)
        var withOffsets = _contents.HasDataOffsets;
        var missing = _contents.Entries
            .Where(e => e.HasData && !_seen.Contains(e.Id) && (e.DataOffset is not null || !withOffsets))
            .ToList();
        if (missing.Count > 0)
        {
            throw Damaged($"the data of {missing[0]} is missing{(missing.Count > 1 ? $", and of {missing.Count - 1} more entries" : "")}");
        }

        DataBytes = _blocks.Select((b, i) => (b.Id, Bytes: (i + 1 < _blocks.Count ? _blocks[i + 1].Start : Position) - b.Start))
            .ToDictionary(b => b.Id, b => b.Bytes);
    }

    /// <summary>Checks a whole local archive file; returns the bytes of each entry's data (see <see cref="DataBytes"/>).</summary>
    public static async Task<IReadOnlyDictionary<int, long>> CheckFileAsync(string path, CancellationToken ct, string? name = null)
    {
        var display = $"'{name ?? path}'";
        await using var file = ArchiveContents.OpenFile(path, useAsync: true);
        var contents = await ArchiveContents.ReadAsync(file, display, ct);
        var check = new ArchiveFramingCheck(contents, display);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await file.ReadAsync(buffer, ct)) > 0)
        {
            check.Feed(buffer.AsSpan(0, read));
        }

        check.Complete();
        return check.DataBytes;
    }

    private void OnInt(long value)
    {
        switch (_state)
        {
            case State.BlockId:
                StartBlock(value);
                break;

            case State.ChunkLength when value < 0:
                throw Damaged($"{Inside()} has a chunk of {value} bytes");

            case State.ChunkLength when value == 0:
                _state = _inLargeObject ? State.LargeObjectOid : State.BlockType;
                _inLargeObject = false;
                break;

            case State.ChunkLength:
                _left = value;
                _state = State.ChunkBytes;
                break;

            case State.LargeObjectOid when value == 0:
                _state = State.BlockType;
                _current = null;
                break;

            case State.LargeObjectOid:
                // pg_dump writes an oid as a signed int: one above 2^31 comes out negative.
                _largeObject = value < 0 ? (uint)(int)value : value;
                _inLargeObject = true;
                _state = State.ChunkLength;
                break;
        }
    }

    private void StartBlock(long id)
    {
        var entry = id is > 0 and <= int.MaxValue ? _contents.Find((int)id) : null;
        if (entry is null)
        {
            throw Damaged($"the data block at byte {_blockStart} belongs to entry {id}, which the table of contents does not have");
        }

        if (!entry.HasData)
        {
            throw Damaged($"the data block at byte {_blockStart} belongs to {entry}, which has no data");
        }

        if (!_seen.Add(entry.Id))
        {
            throw Damaged($"the data of {entry} appears twice");
        }

        var largeObjects = entry.Kind == "BLOBS";
        if (largeObjects != (_blockType == ArchiveFormat.BlockLargeObjects))
        {
            throw Damaged($"the data block at byte {_blockStart} is of type {_blockType}, which does not fit {entry}");
        }

        if (entry.DataOffset is { } offset && offset != _blockStart)
        {
            throw Damaged($"the data of {entry} starts at byte {_blockStart}, not at byte {offset} as the table of contents says");
        }

        _current = entry;
        _blocks.Add((entry.Id, _blockStart));
        _state = largeObjects ? State.LargeObjectOid : State.ChunkLength;
    }

    private string Inside() => _state switch
    {
        State.BlockId => $"the header of the data block at byte {_blockStart}",
        _ when _inLargeObject => $"large object {_largeObject} of {_current}",
        _ when _current?.Kind == "BLOBS" => $"the large objects of {_current}",
        _ => $"the data of {_current}",
    };

    private void Take(ref ReadOnlySpan<byte> bytes, int count)
    {
        bytes = bytes[count..];
        BytesChecked += count;
    }

    private UsageException Damaged(string what) => ArchiveDamage.Error(_display, what);
}

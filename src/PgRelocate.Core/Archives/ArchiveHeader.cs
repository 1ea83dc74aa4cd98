using System.Text;
using PgRelocate.Errors;

namespace PgRelocate.Archives;

/// <summary>
/// The header of a pg_dump custom-format archive: magic <c>PGDMP</c>, the archive format version, and
/// (when the header is complete) the database name and the server and pg_dump versions that wrote it.
/// Reading it first lets us refuse a file that is not an archive, or that this machine's pg_restore
/// cannot read, before anything touches the target.
/// </summary>
internal sealed record ArchiveHeader(int FormatMajor, int FormatMinor, int FormatRevision, string? DatabaseName, string? ServerVersion, string? PgDumpVersion)
{
    public const int MinimumProbeBytes = 5;

    /// <summary>How many bytes <see cref="Parse"/> wants to see the whole header.</summary>
    public const int ProbeBytes = 512;

    public string FormatVersion => $"{FormatMajor}.{FormatMinor}";

    /// <summary>Bytes of an integer in the archive (after its sign byte); set by <see cref="ArchiveContents"/>.</summary>
    public int IntSize { get; init; } = 4;

    /// <summary>Bytes of a data offset in the archive; set by <see cref="ArchiveContents"/>.</summary>
    public int OffsetSize { get; init; } = 8;

    /// <summary>How the data blocks are compressed ("none", "gzip", "lz4", "zstd"); null when only the first bytes were read.</summary>
    public string? Compression { get; init; }

    /// <summary>When pg_dump started, in the dumping machine's local time (its zone is not recorded); null when only the first bytes were read.</summary>
    public DateTime? CreatedAt { get; init; }

    /// <summary>
    /// The oldest pg_restore major version that reads this archive. Format 1.15 came with PostgreSQL 16 and
    /// 1.16 with 17 (each later format with the next release); older formats are read by every supported
    /// pg_restore, so 0.
    /// </summary>
    public int MinimumPgRestoreMajor => FormatMajor == 1 && FormatMinor >= 15 ? FormatMinor + 1 : 0;

    public int? PgDumpMajor => MajorOf(PgDumpVersion);

    /// <summary>
    /// Parses the first bytes of a file or download. Throws a <see cref="UsageException"/> that explains what
    /// the bytes are instead (an HTML page, an S3 error, a plain SQL dump, a compressed file, nothing).
    /// </summary>
    public static ArchiveHeader Parse(ReadOnlySpan<byte> head, string what)
    {
        if (head.Length >= 5 && head[..5].SequenceEqual("PGDMP"u8))
        {
            return ParseHeader(head);
        }

        throw new UsageException($"{what} {Describe(head)}");
    }

    /// <summary>Reads the header of a local file.</summary>
    public static ArchiveHeader Read(string path)
    {
        var buffer = new byte[ProbeBytes];
        int read;
        using (var f = File.OpenRead(path))
        {
            read = f.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }

        return Parse(buffer.AsSpan(0, read), $"'{path}'");
    }

    /// <summary>Says what non-archive bytes look like, as the end of a sentence starting with the file's name.</summary>
    internal static string Describe(ReadOnlySpan<byte> head)
    {
        if (head.Length == 0)
        {
            return "is empty, not a pg_dump archive: dump again with 'pgrelocate dump'.";
        }

        if (head.Length < 5 && "PGDMP"u8.StartsWith(head))
        {
            return "is truncated: it ends inside the archive header. Dump again or download it again.";
        }

        var text = Encoding.UTF8.GetString(head).TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        if (text.StartsWith("<?xml", StringComparison.OrdinalIgnoreCase) || text.StartsWith("<Error", StringComparison.Ordinal))
        {
            var code = Between(text, "<Code>", "</Code>");
            var message = Between(text, "<Message>", "</Message>");
            var hint = code is "AccessDenied" && message?.Contains("expired", StringComparison.OrdinalIgnoreCase) == true
                       || message?.Contains("expired", StringComparison.OrdinalIgnoreCase) == true
                ? " Make a new URL with 'pgrelocate url' and try again."
                : code is "AuthenticationFailed" or "SignatureDoesNotMatch" or "AccessDenied"
                    ? " The URL is not valid for this object: make a new one with 'pgrelocate url'."
                    : "";
            return $"is an object-store error, not a pg_dump archive: {code ?? "error"}{(message is null ? "" : ": " + message)}.{hint}";
        }

        if (text.StartsWith("<!DOCTYPE html", StringComparison.OrdinalIgnoreCase) || text.StartsWith("<html", StringComparison.OrdinalIgnoreCase) || text.StartsWith('<'))
        {
            return "is an HTML page, not a pg_dump archive: the URL points to a web page (a login or error page?). Use a direct download or presigned URL.";
        }

        if (head.Length >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            return "is gzip-compressed, not a pg_dump custom archive: decompress it first (gunzip).";
        }

        if (head.Length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
        {
            return "is a zip file, not a pg_dump custom archive: extract it first.";
        }

        if (text.StartsWith("--", StringComparison.Ordinal) || text.Contains("PostgreSQL database dump", StringComparison.Ordinal))
        {
            return "is a plain SQL dump, not a custom-format archive: dump again with 'pgrelocate dump' (pg_dump -Fc), or load it with psql.";
        }

        if (head.Length >= 512 && head[257] == 'u' && head[258] == 's' && head[259] == 't' && head[260] == 'a' && head[261] == 'r')
        {
            return "is a tar archive, not a custom-format archive: dump again with 'pgrelocate dump' (pg_dump -Fc).";
        }

        return "is not a pg_dump custom-format archive (it does not start with PGDMP): dump again with 'pgrelocate dump'.";
    }

    private static string? Between(string text, string open, string close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        start += open.Length;
        var end = text.IndexOf(close, start, StringComparison.Ordinal);
        return end < 0 ? null : text[start..end];
    }

    private static ArchiveHeader ParseHeader(ReadOnlySpan<byte> head)
    {
        if (head.Length < 8)
        {
            throw new UsageException("The archive is truncated: it ends inside its header. Dump again or download it again.");
        }

        int vmaj = head[5], vmin = head[6], vrev = head[7];
        try
        {
            var reader = new HeaderReader(head[8..].ToArray());
            var intSize = reader.Byte();
            var offsetSize = reader.Byte();
            reader.Byte(); // format (custom = 1)
            reader.IntSize = intSize;
            if ((vmaj, vmin) is (1, >= 15))
            {
                reader.Byte(); // compression algorithm
            }
            else
            {
                reader.Int(); // compression level
            }

            for (var i = 0; i < 7; i++)
            {
                reader.Int(); // creation time: sec, min, hour, mday, mon, year, isdst
            }

            var db = reader.String();
            var server = reader.String();
            var pgdump = reader.String();
            return new ArchiveHeader(vmaj, vmin, vrev, db, server, pgdump) { IntSize = intSize, OffsetSize = offsetSize };
        }
        catch (IndexOutOfRangeException)
        {
            // The version bytes were there; the rest of the header is short. Good enough to decide.
            return new ArchiveHeader(vmaj, vmin, vrev, null, null, null);
        }
    }

    private static int? MajorOf(string? version)
    {
        if (version is null)
        {
            return null;
        }

        var digits = new string(version.TakeWhile(char.IsDigit).ToArray());
        return int.TryParse(digits, System.Globalization.CultureInfo.InvariantCulture, out var major) ? major : null;
    }

    private sealed class HeaderReader(byte[] data)
    {
        private int _pos;

        public int IntSize { get; set; } = 4;

        public byte Byte() => data[_pos++];

        // pg_dump writes an int as a sign byte followed by IntSize bytes, least significant first.
        public long Int()
        {
            var negative = data[_pos++] != 0;
            long value = 0;
            for (var i = 0; i < IntSize; i++)
            {
                value |= (long)data[_pos++] << (8 * i);
            }

            return negative ? -value : value;
        }

        public string? String()
        {
            var length = (int)Int();
            if (length < 0)
            {
                return null;
            }

            var s = Encoding.UTF8.GetString(data, _pos, length);
            _pos += length;
            if (_pos > data.Length)
            {
                throw new IndexOutOfRangeException();
            }

            return s;
        }
    }
}

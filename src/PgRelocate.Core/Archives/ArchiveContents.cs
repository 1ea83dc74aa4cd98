using System.Globalization;
using System.Text;
using PgRelocate.Errors;

namespace PgRelocate.Archives;

/// <summary>
/// The header and table of contents of a pg_dump custom-format archive, read from the archive's own bytes
/// (pg_dump's ReadHead and ReadToc) instead of from <c>pg_restore --list</c> text, whose lines cannot tell a
/// space in a name from the space between two fields. Formats 1.12 to 1.16 (pg_dump 9.0 to 18) are what
/// providers hand out; older ones are read as far as pg_dump's own reader still reads them.
/// </summary>
internal sealed class ArchiveContents
{
    private readonly Dictionary<int, ArchiveEntry> _byId;

    private ArchiveContents(ArchiveHeader header, IReadOnlyList<ArchiveEntry> entries, Dictionary<int, ArchiveEntry> byId, long dataStart)
    {
        Header = header;
        Entries = entries;
        _byId = byId;
        DataStart = dataStart;
        Extensions = entries.Where(e => e.Kind == "EXTENSION" && e.Tag != "plpgsql").Select(e => e.Tag).ToList();
    }

    public ArchiveHeader Header { get; }

    /// <summary>The entries in archive order, which is the order pg_dump sorted them in and pg_restore restores them in.</summary>
    public IReadOnlyList<ArchiveEntry> Entries { get; }

    /// <summary>The byte offset just after the table of contents, where the first data block starts.</summary>
    public long DataStart { get; }

    /// <summary>The names of the archive's EXTENSION entries in archive order; plpgsql, which every database has, left out.</summary>
    public IReadOnlyList<string> Extensions { get; }

    /// <summary>
    /// The archive's extensions (plpgsql left out) with the schema pg_dump creates them in, read from their
    /// <c>CREATE EXTENSION ... WITH SCHEMA</c> statements.
    /// </summary>
    public IReadOnlyList<(string Name, string Schema)> ExtensionSchemas => Entries
        .Where(e => e.Kind == "EXTENSION" && e.Tag != "plpgsql")
        .Select(e => (e.Tag, Schema: ExtensionSchema(e.Definition)))
        .Where(e => e.Schema is not null)
        .Select(e => (e.Tag, e.Schema!))
        .ToList();

    /// <summary>The schema of pg_dump's "CREATE EXTENSION IF NOT EXISTS x WITH SCHEMA s;", unquoted; null without one.</summary>
    internal static string? ExtensionSchema(string definition)
    {
        const string with = " WITH SCHEMA ";
        var at = definition.IndexOf(with, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var rest = definition[(at + with.Length)..].TrimEnd().TrimEnd(';');
        if (!rest.StartsWith('"'))
        {
            var end = rest.IndexOfAny([' ', ';', '\n']);
            return end < 0 ? rest : rest[..end];
        }

        var name = new System.Text.StringBuilder();
        for (var i = 1; i < rest.Length; i++)
        {
            if (rest[i] == '"')
            {
                if (i + 1 < rest.Length && rest[i + 1] == '"')
                {
                    name.Append('"');
                    i++;
                    continue;
                }

                return name.ToString();
            }

            name.Append(rest[i]);
        }

        return null;
    }

    /// <summary>Whether pg_dump wrote where each data block starts (an archive written with --file; not one written to a pipe).</summary>
    public bool HasDataOffsets => Entries.Any(e => e.DataOffset is not null);

    public ArchiveEntry? Find(int id) => _byId.GetValueOrDefault(id);

    /// <summary>Reads a local file's header and table of contents.</summary>
    /// <param name="path">The file.</param>
    /// <param name="display">How messages name it, when not by its path (a download's temporary copy is named by its URL).</param>
    public static ArchiveContents Read(string path, string? display = null)
    {
        using var file = OpenFile(path, useAsync: false);
        return ReadAsync(file, $"'{display ?? path}'", CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>
    /// Reads the header and table of contents and leaves <paramref name="stream"/> at <see cref="DataStart"/>, for the
    /// caller to read the data from there: the stream may be a download or a file pg_dump is still writing, which is
    /// read no further (see <see cref="ArchiveByteReader"/>). <paramref name="display"/> names it in messages.
    /// </summary>
    public static async Task<ArchiveContents> ReadAsync(Stream stream, string display, CancellationToken ct)
    {
        var input = new ArchiveByteReader(stream, display);
        var header = await ReadHeaderAsync(input, display, ct);
        var version = ArchiveFormat.Version(header.FormatMajor, header.FormatMinor, header.FormatRevision);

        input.Where = "the table of contents";
        var count = await input.IntAsync(ct);
        if (count < 0)
        {
            throw input.Damaged($"the table of contents says it has {count} entries");
        }

        var entries = new List<ArchiveEntry>();
        var byId = new Dictionary<int, ArchiveEntry>();
        for (var i = 0; i < count; i++)
        {
            var entry = await ReadEntryAsync(input, version, header.OffsetSize, ct);
            if (!byId.TryAdd(entry.Id, entry))
            {
                throw input.Damaged($"entry {entry.Id} appears twice in the table of contents");
            }

            entries.Add(entry);
            if (entry.Kind == "ENCODING")
            {
                // Names are in the database's encoding, which the first entry states.
                input.Text = TextOf(entry.Definition);
            }
        }

        input.Rewind();
        return new ArchiveContents(header, entries, byId, input.Position);
    }

    /// <summary>Opens a local archive for reading; one that is missing is the user's to fix.</summary>
    internal static FileStream OpenFile(string path, bool useAsync)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, useAsync);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UsageException($"'{path}' does not exist: check the archive's path. Nothing was changed.", e);
        }
    }

    private static async Task<ArchiveHeader> ReadHeaderAsync(ArchiveByteReader input, string display, CancellationToken ct)
    {
        var head = new byte[ArchiveHeader.ProbeBytes];
        var magic = await input.ReadSomeAsync(head.AsMemory(0, 5), ct);
        if (magic is > 0 and < 5 && "PGDMP"u8.StartsWith(head.AsSpan(0, magic)))
        {
            throw ArchiveDamage.Error(display, "it ends inside the archive header");
        }

        if (magic < 5 || !head.AsSpan(0, 5).SequenceEqual("PGDMP"u8))
        {
            // Not an archive: look a little further to say what it is instead.
            var more = magic < 5 ? 0 : await input.ReadSomeAsync(head.AsMemory(5), ct);
            throw new UsageException($"{display} {ArchiveHeader.Describe(head.AsSpan(0, magic + more))}");
        }

        int major = await input.ByteAsync(ct), minor = await input.ByteAsync(ct);
        var revision = major > 1 || (major == 1 && minor > 0) ? await input.ByteAsync(ct) : 0;
        var version = ArchiveFormat.Version(major, minor, revision);
        if (major != 1 || version > ArchiveFormat.Newest)
        {
            throw new UsageException($"{display} is a pg_dump archive of format {major}.{minor}, newer than PgRelocate reads (up to 1.16, pg_dump 18): dump with an older pg_dump or use a newer PgRelocate. Nothing was changed.");
        }

        input.SignByte = ArchiveFormat.HasSignByte(version);
        var intSize = await input.ByteAsync(ct);
        var offsetSize = version >= ArchiveFormat.Version(1, 7) ? await input.ByteAsync(ct) : intSize;
        if (intSize is < 1 or > 8 || offsetSize is < 1 or > 15)
        {
            throw input.Damaged($"the header gives {intSize}-byte integers and {offsetSize}-byte offsets");
        }

        input.IntSize = intSize;
        var format = await input.ByteAsync(ct);
        if (format != ArchiveFormat.Custom)
        {
            throw new UsageException(format == ArchiveFormat.Directory
                ? $"{display} is the table of contents of a directory-format dump, not a custom-format archive: dump again with 'pgrelocate dump' (pg_dump -Fc). Nothing was changed."
                : $"{display} is a pg_dump archive of format {format}, not a custom-format archive: dump again with 'pgrelocate dump' (pg_dump -Fc). Nothing was changed.");
        }

        string compression;
        if (version >= ArchiveFormat.Version(1, 15))
        {
            var algorithm = await input.ByteAsync(ct);
            compression = algorithm switch { 0 => "none", 1 => "gzip", 2 => "lz4", 3 => "zstd", _ => throw input.Damaged($"the header names compression method {algorithm}") };
        }
        else
        {
            long level = version >= ArchiveFormat.Version(1, 4) ? await input.IntAsync(ct)
                : version >= ArchiveFormat.Version(1, 2) ? await input.ByteAsync(ct)
                : -1;
            compression = level == 0 ? "none" : "gzip";
        }

        DateTime? created = null;
        string? database = null, server = null, pgDump = null;
        if (version >= ArchiveFormat.Version(1, 4))
        {
            var t = new long[7]; // sec, min, hour, mday, mon (0-11), year - 1900, isdst
            for (var i = 0; i < t.Length; i++)
            {
                t[i] = await input.IntAsync(ct);
            }

            created = TimeOf(t);
            database = await input.StringAsync(ct);
        }

        if (version >= ArchiveFormat.Version(1, 10))
        {
            server = await input.StringAsync(ct);
            pgDump = await input.StringAsync(ct);
        }

        return new ArchiveHeader(major, minor, revision, database, server, pgDump)
        {
            IntSize = intSize,
            OffsetSize = offsetSize,
            Compression = compression,
            CreatedAt = created,
        };
    }

    private static async Task<ArchiveEntry> ReadEntryAsync(ArchiveByteReader input, int version, int offsetSize, CancellationToken ct)
    {
        var id = await input.IntAsync(ct);
        if (id is <= 0 or > int.MaxValue)
        {
            throw input.Damaged($"the table of contents holds entry id {id}");
        }

        input.Where = $"entry {id} of the table of contents";
        var hadDumper = await input.IntAsync(ct) != 0;
        var catalogId = version >= ArchiveFormat.Version(1, 8) ? Oid(input, await input.StringAsync(ct), "catalog") : 0;
        var objectId = Oid(input, await input.StringAsync(ct), "object");
        var tag = await input.StringAsync(ct) ?? "";
        var kind = await input.StringAsync(ct) ?? throw input.Damaged($"entry {id} has no kind");
        var section = version >= ArchiveFormat.Version(1, 11)
            ? await input.IntAsync(ct) switch
            {
                1 => ArchiveSection.None,
                2 => ArchiveSection.PreData,
                3 => ArchiveSection.Data,
                4 => ArchiveSection.PostData,
                var s => throw input.Damaged($"entry {id} names section {s}"),
            }
            : SectionBefore811(kind);
        var definition = await input.StringAsync(ct) ?? "";
        var drop = await input.StringAsync(ct);
        var copy = version >= ArchiveFormat.Version(1, 3) ? await input.StringAsync(ct) : null;
        var schema = version >= ArchiveFormat.Version(1, 6) ? await input.StringAsync(ct) : null;
        if (version >= ArchiveFormat.Version(1, 10))
        {
            await input.BytesAsync(ct); // tablespace
        }

        if (version >= ArchiveFormat.Version(1, 14))
        {
            await input.BytesAsync(ct); // table access method
        }

        if (version >= ArchiveFormat.Version(1, 16))
        {
            await input.IntAsync(ct); // relkind
        }

        var owner = await input.StringAsync(ct);
        if (version >= ArchiveFormat.Version(1, 9))
        {
            await input.BytesAsync(ct); // "with oids", always "false" since PostgreSQL 12
        }

        var dependencies = new List<int>();
        if (version >= ArchiveFormat.Version(1, 5))
        {
            while (await input.StringAsync(ct) is { } dependency)
            {
                dependencies.Add(int.TryParse(dependency, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var d)
                    ? d
                    : throw input.Damaged($"entry {id} depends on '{dependency}'"));
            }
        }

        // pg_backup_custom.c's extra TOC data: where the entry's data block starts.
        int flag;
        long offset;
        if (version >= ArchiveFormat.Version(1, 7))
        {
            (flag, offset) = await input.OffsetAsync(offsetSize, ct);
            if (flag is not (ArchiveFormat.OffsetNotSet or ArchiveFormat.OffsetSet or ArchiveFormat.OffsetNoData))
            {
                throw input.Damaged($"entry {id} has data offset flag {flag}");
            }
        }
        else
        {
            offset = await input.IntAsync(ct);
            flag = offset < 0 ? ArchiveFormat.OffsetNotSet : offset == 0 ? ArchiveFormat.OffsetNoData : ArchiveFormat.OffsetSet;
            await input.IntAsync(ct); // the data's size, no longer written
        }

        return new ArchiveEntry(
            (int)id,
            kind,
            string.IsNullOrEmpty(schema) ? null : schema,
            tag,
            string.IsNullOrEmpty(owner) ? null : owner,
            section,
            catalogId,
            objectId,
            dependencies,
            definition,
            drop,
            copy,
            HasData: hadDumper && flag != ArchiveFormat.OffsetNoData,
            DataOffset: flag == ArchiveFormat.OffsetSet ? offset : null);
    }

    private static uint Oid(ArchiveByteReader input, string? text, string what) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var oid)
            ? oid
            : throw input.Damaged($"an entry's {what} oid is '{text}'");

    /// <summary>pg_dump's rules for archives older than 1.11, written before entries carried their section.</summary>
    private static ArchiveSection SectionBefore811(string kind) => kind switch
    {
        "COMMENT" or "ACL" or "ACL LANGUAGE" => ArchiveSection.None,
        "TABLE DATA" or "BLOBS" or "BLOB COMMENTS" => ArchiveSection.Data,
        "CONSTRAINT" or "CHECK CONSTRAINT" or "FK CONSTRAINT" or "INDEX" or "RULE" or "TRIGGER" => ArchiveSection.PostData,
        _ => ArchiveSection.PreData,
    };

    /// <summary>The encoding of "SET client_encoding = 'LATIN1';"; UTF-8 for any other.</summary>
    private static Encoding TextOf(string definition)
    {
        var start = definition.IndexOf('\'', StringComparison.Ordinal);
        var end = start < 0 ? -1 : definition.IndexOf('\'', start + 1);
        var name = end < 0 ? "" : definition[(start + 1)..end];
        return name.Equals("LATIN1", StringComparison.OrdinalIgnoreCase) || name.Equals("SQL_ASCII", StringComparison.OrdinalIgnoreCase)
            ? Encoding.Latin1
            : new UTF8Encoding(false, false);
    }

    private static DateTime? TimeOf(long[] t)
    {
        try
        {
            return new DateTime((int)t[5] + 1900, (int)t[4] + 1, (int)t[3], (int)t[2], (int)t[1], (int)Math.Min(t[0], 59), DateTimeKind.Unspecified);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}

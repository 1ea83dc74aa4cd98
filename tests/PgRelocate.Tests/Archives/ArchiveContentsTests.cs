using System.Globalization;
using System.Text.RegularExpressions;
using PgRelocate.Archives;
using PgRelocate.Errors;

namespace PgRelocate.Tests.Archives;

[Collection(SampleArchives.Collection)]
public partial class ArchiveContentsTests(SampleArchives samples)
{
    public static TheoryData<string> AllArchives() =>
        ["15-file-z0", "15-file-default", "15-pipe-z0", "15-pipe-default", "12-file-z0", "12-file-default", "12-pipe-z0", "12-pipe-default"];

    [Theory]
    [MemberData(nameof(AllArchives))]
    public async Task Should_Read_What_PgRestore_Lists(string archive)
    {
        var path = samples.Archives[archive];

        var contents = ArchiveContents.Read(path);

        // pg_restore --list --verbose prints every entry as "id; tableoid oid desc schema tag owner", with line
        // breaks in names turned into spaces and "-" for no schema. Lines are matched by their leading id, so
        // spaces inside names cannot confuse the comparison.
        var listed = (await SampleArchives.PgRestoreAsync("--list", "--verbose", path))
            .Split('\n')
            .Select(l => ListedLine().Match(l))
            .Where(m => m.Success)
            .ToDictionary(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m => m.Value);
        Assert.Equal(listed.Keys.Order(), contents.Entries.Select(e => e.Id).Order());
        foreach (var e in contents.Entries)
        {
            Assert.Equal(listed[e.Id], $"{e.Id}; {e.CatalogId} {e.ObjectId} {e.Kind} {Sanitize(e.Schema) ?? "-"} {Sanitize(e.Tag)} {Sanitize(e.Owner) ?? ""}");
            Assert.Same(e, contents.Find(e.Id));
            Assert.DoesNotContain('\n', e.ListLine);
            Assert.StartsWith($"{e.Id}; ", e.ListLine, StringComparison.Ordinal);
            Assert.Equal(1, e.ListLine.Count(c => c == ';'));
        }

        Assert.Equal(["hstore"], contents.Extensions);
        Assert.Equal("1.14", contents.Header.FormatVersion);
        Assert.StartsWith(archive[..2] + ".", contents.Header.ServerVersion, StringComparison.Ordinal);
        Assert.Equal(archive.Contains("-z0", StringComparison.Ordinal) ? "none" : "gzip", contents.Header.Compression);
        Assert.Equal(archive.Contains("-file-", StringComparison.Ordinal), contents.HasDataOffsets);
    }

    [Theory]
    [MemberData(nameof(AllArchives))]
    public void Should_Keep_Names_Whole(string archive)
    {
        var contents = ArchiveContents.Read(samples.Archives[archive]);

        var data = contents.Entries.Single(e => e is { Kind: "TABLE DATA", Tag: "Order Lines" });
        Assert.Equal("Sales Dept", data.Schema);
        Assert.Equal("Sales Owner", data.Owner);
        Assert.Equal("Sales Dept.Order Lines", data.QualifiedTag);
        Assert.Equal(ArchiveSection.Data, data.Section);
        Assert.True(data.HasData);
        Assert.StartsWith("COPY \"Sales Dept\".\"Order Lines\" ", data.CopyStatement, StringComparison.Ordinal);
        Assert.Contains(contents.Entries, e => e is { Kind: "TABLE", Schema: "we.ird\"schema", Tag: "line\nbreak" });
        Assert.Contains(contents.Entries, e => e is { Kind: "TABLE", Schema: "Ventes été", Tag: "Données ñ" });
        Assert.Contains(contents.Entries, e => e.Kind == "TABLE" && e.Tag == SampleArchives.LongName);
        Assert.Contains(contents.Entries, e => e is { Kind: "TABLE", Schema: "public", Tag: "select" });
        Assert.Contains(contents.Entries, e => e is { Kind: "SEQUENCE SET", Tag: "seq;semi" });
        Assert.Contains(contents.Entries, e => e is { Kind: "FUNCTION", Schema: "Sales Dept", Tag: "add one(integer)" });
        Assert.Contains(contents.Entries, e => e is { Kind: "AGGREGATE", Tag: "my sum(integer)" });
        var index = contents.Entries.Single(e => e is { Kind: "INDEX", Tag: "by note" });
        Assert.Equal(ArchiveSection.PostData, index.Section);
        Assert.Contains(contents.Entries.Single(e => e is { Kind: "TABLE", Tag: "Order Lines" }).Id, index.Dependencies);
        Assert.Contains(contents.Entries, e => e.Kind == "FK CONSTRAINT" && e.Schema == "we.ird\"schema");
        Assert.Contains(contents.Entries, e => e.Kind == "CONSTRAINT" && e.Schema == "Sales Dept");
        Assert.Contains(contents.Entries, e => e is { Kind: "BLOBS", HasData: true });
        Assert.Equal(2, contents.Entries.Count(e => e.Kind == "BLOB"));
        Assert.All(contents.Entries.Where(e => !e.HasData), e => Assert.Null(e.DataOffset));
    }

    [Fact]
    public async Task Should_Stop_At_The_End_Of_The_Table_Of_Contents_Of_A_Pipe()
    {
        using var pgDump = SampleArchives.StartPgDump(samples.Source15);
        var stdout = pgDump.StandardOutput.BaseStream;

        var contents = await ArchiveContents.ReadAsync(stdout, "the pipe", CancellationToken.None);

        // What is left of the pipe is exactly the data blocks: the framing check accepts them.
        var check = new ArchiveFramingCheck(contents, "the pipe");
        var buffer = new byte[7919];
        int read;
        while ((read = await stdout.ReadAsync(buffer)) > 0)
        {
            check.Feed(buffer.AsSpan(0, read));
        }

        check.Complete();
        await pgDump.WaitForExitAsync();
        Assert.Equal(0, pgDump.ExitCode);
        Assert.Contains("Sales Dept", contents.Entries.Select(e => e.Schema));
    }

    [Theory]
    [MemberData(nameof(AllArchives))]
    public async Task Should_Leave_A_File_At_DataStart(string archive)
    {
        await using var file = File.OpenRead(samples.Archives[archive]);

        var contents = await ArchiveContents.ReadAsync(file, "x", CancellationToken.None);

        Assert.Equal(contents.DataStart, file.Position);
        if (contents.HasDataOffsets)
        {
            Assert.Equal(contents.DataStart, contents.Entries.Where(e => e.DataOffset is not null).Min(e => e.DataOffset));
        }
    }

    [Theory]
    [MemberData(nameof(AllArchives))]
    public async Task Should_Read_A_Stream_That_Cannot_Seek_Without_Waiting_For_Its_Data(string archive)
    {
        var bytes = await File.ReadAllBytesAsync(samples.Archives[archive]);
        var whole = ArchiveContents.Read(samples.Archives[archive]);

        // A few bytes at a time, as a download arrives, and nothing past the table of contents: a read ahead that
        // waited for the data would never end, and one that took it would leave the caller's data short.
        foreach (var piece in new[] { 1, 7, 4096 + 3 })
        {
            await using var stream = new TrickleStream(bytes[..(int)whole.DataStart], piece);
            var contents = await ArchiveContents.ReadAsync(stream, "x", CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(1));

            Assert.Equal(whole.DataStart, contents.DataStart);
            Assert.Equal(whole.DataStart, stream.Position);
            Assert.Equal(whole.Entries.Select(e => e.ListLine + e.Definition), contents.Entries.Select(e => e.ListLine + e.Definition));
        }
    }

    [Theory]
    [MemberData(nameof(AllArchives))]
    public async Task Should_Pass_Whole_Archives(string archive)
    {
        var path = samples.Archives[archive];

        await ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None);

        // Any piece sizes: one byte at a time, then odd pieces.
        var bytes = await File.ReadAllBytesAsync(path);
        var contents = ArchiveContents.Read(path);
        foreach (var piece in new[] { 1, 3, 4096 + 7 })
        {
            var check = new ArchiveFramingCheck(contents, "x");
            for (var at = (int)contents.DataStart; at < bytes.Length; at += piece)
            {
                check.Feed(bytes.AsSpan(at, Math.Min(piece, bytes.Length - at)));
            }

            check.Complete();
            Assert.Equal(bytes.Length - contents.DataStart, check.BytesChecked);
        }
    }

    /// <summary>
    /// The bytes of each entry's data, which spread a whole file's tables over a parallel restore's lanes: every entry
    /// with data has its block, the blocks cover every byte after the table of contents, and where pg_dump wrote
    /// offsets each block runs from its entry's offset to the next one's.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllArchives))]
    public async Task Should_Measure_The_Bytes_Of_Each_Entry_S_Data(string archive)
    {
        var path = samples.Archives[archive];
        var contents = ArchiveContents.Read(path);

        var bytes = await ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None);

        Assert.Equal(contents.Entries.Where(e => e.HasData).Select(e => e.Id).Order(), bytes.Keys.Order());
        Assert.Equal(new FileInfo(path).Length - contents.DataStart, bytes.Values.Sum());
        Assert.All(bytes.Values, b => Assert.True(b > 0));
        if (contents.HasDataOffsets)
        {
            var starts = contents.Entries.Where(e => e.DataOffset is not null).OrderBy(e => e.DataOffset).ToList();
            for (var i = 0; i < starts.Count; i++)
            {
                var end = i + 1 < starts.Count ? starts[i + 1].DataOffset!.Value : new FileInfo(path).Length;
                Assert.Equal(end - starts[i].DataOffset!.Value, bytes[starts[i].Id]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllArchives))]
    public async Task Should_Refuse_A_Truncated_Archive_Wherever_It_Ends(string archive)
    {
        var bytes = await File.ReadAllBytesAsync(samples.Archives[archive]);
        var contents = ArchiveContents.Read(samples.Archives[archive]);
        var dataStart = (int)contents.DataStart;
        var cuts = new List<int> { 6, 10, 12, 30, 60, dataStart / 3, dataStart / 2, dataStart - 1, dataStart + 1, dataStart + 5, bytes.Length - 1 };
        for (var k = 1; k < 20; k++)
        {
            cuts.Add(dataStart + (int)((long)(bytes.Length - dataStart) * k / 20));
        }

        foreach (var entry in contents.Entries.Where(e => e.DataOffset is not null))
        {
            cuts.Add((int)entry.DataOffset!.Value);     // before the block: its data is missing
            cuts.Add((int)entry.DataOffset!.Value + 3); // inside the block's header
            cuts.Add((int)entry.DataOffset!.Value + 40);
        }

        using var dir = new Harness.TempDir();
        foreach (var cut in cuts.Where(c => c > 0 && c < bytes.Length).Distinct())
        {
            var path = dir.File($"cut-{cut}.dump");
            await File.WriteAllBytesAsync(path, bytes[..cut]);

            var e = await Assert.ThrowsAsync<UsageException>(() => ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None));

            AssertOneLine(e, path);
            if (cut < dataStart)
            {
                var read = Assert.Throws<UsageException>(() => ArchiveContents.Read(path));
                Assert.Equal(e.Message, read.Message);
            }
            else
            {
                Assert.Equal(contents.Entries.Count, ArchiveContents.Read(path).Entries.Count);
            }
        }
    }

    [Fact]
    public async Task Should_Say_Which_Large_Object_Is_Cut()
    {
        var bytes = await File.ReadAllBytesAsync(samples.Archives["15-file-z0"]);
        var contents = ArchiveContents.Read(samples.Archives["15-file-z0"]);
        var blobs = contents.Entries.Single(e => e.Kind == "BLOBS");
        using var dir = new Harness.TempDir();
        var path = dir.File("cut.dump");
        await File.WriteAllBytesAsync(path, bytes[..(int)(blobs.DataOffset!.Value + 1000)]);

        var e = await Assert.ThrowsAsync<UsageException>(() => ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None));

        AssertOneLine(e, path);
        Assert.Contains("it ends inside large object ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Say_Which_Table_Is_Cut()
    {
        var bytes = await File.ReadAllBytesAsync(samples.Archives["15-file-default"]);
        var contents = ArchiveContents.Read(samples.Archives["15-file-default"]);
        var data = contents.Entries.Single(e => e is { Kind: "TABLE DATA", Tag: "Order Lines" });
        using var dir = new Harness.TempDir();
        var path = dir.File("cut.dump");
        await File.WriteAllBytesAsync(path, bytes[..(int)(data.DataOffset!.Value + 100)]);

        var e = await Assert.ThrowsAsync<UsageException>(() => ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None));

        Assert.Equal($"'{path}' is truncated or damaged (it ends inside the data of TABLE DATA Sales Dept.Order Lines): dump or download it again. Nothing was changed.", e.Message);
    }

    [Fact]
    public async Task Should_Refuse_Ten_Bytes_Of_Header()
    {
        using var dir = new Harness.TempDir();
        var path = dir.File("short.dump");
        await File.WriteAllBytesAsync(path, [.. "PGDMP"u8, 1, 14, 0, 4, 8]);

        var e = Assert.Throws<UsageException>(() => ArchiveContents.Read(path));

        Assert.Equal($"'{path}' is truncated or damaged (it ends inside the archive header): dump or download it again. Nothing was changed.", e.Message);
    }

    [Theory]
    [InlineData("PGD")]
    [InlineData("PGDMP")]
    public async Task Should_Refuse_The_Start_Of_A_Header(string content)
    {
        using var dir = new Harness.TempDir();
        var path = dir.File("start.dump");
        await File.WriteAllTextAsync(path, content);

        var e = Assert.Throws<UsageException>(() => ArchiveContents.Read(path));

        Assert.Equal($"'{path}' is truncated or damaged (it ends inside the archive header): dump or download it again. Nothing was changed.", e.Message);
    }

    [Fact]
    public async Task Should_Name_A_Missing_File()
    {
        using var dir = new Harness.TempDir();
        var path = dir.File("missing.dump");

        var e = await Assert.ThrowsAsync<UsageException>(() => ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None));

        Assert.Equal($"'{path}' does not exist: check the archive's path. Nothing was changed.", e.Message);
    }

    [Fact]
    public async Task Should_Refuse_A_Flipped_Block_Type()
    {
        var bytes = await File.ReadAllBytesAsync(samples.Archives["15-file-z0"]);
        var contents = ArchiveContents.Read(samples.Archives["15-file-z0"]);
        var data = contents.Entries.First(e => e.Kind == "TABLE DATA");
        bytes[data.DataOffset!.Value] = 3; // a large-object block for a table
        using var dir = new Harness.TempDir();
        var path = dir.File("flipped.dump");
        await File.WriteAllBytesAsync(path, bytes);

        var e = await Assert.ThrowsAsync<UsageException>(() => ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None));

        AssertOneLine(e, path);
        Assert.Contains("does not fit TABLE DATA", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Refuse_A_Bad_Sign_Byte_In_A_Strings_Length_Read_Ahead_Or_Not()
    {
        var bytes = await File.ReadAllBytesAsync(samples.Archives["15-file-z0"]);
        // The first entry's tag, "ENCODING", after its length: a sign byte and four bytes, least significant first.
        byte[] length = [0, 8, 0, 0, 0];
        var tag = bytes.AsSpan().IndexOf([.. length, .. "ENCODING"u8]);
        Assert.True(tag > 0);
        bytes[tag] = 7;
        using var dir = new Harness.TempDir();
        var path = dir.File("signed.dump");
        await File.WriteAllBytesAsync(path, bytes);

        var read = Assert.Throws<UsageException>(() => ArchiveContents.Read(path));
        await using var stream = new TrickleStream(bytes, 3);
        var trickled = await Assert.ThrowsAsync<UsageException>(() => ArchiveContents.ReadAsync(stream, $"'{path}'", CancellationToken.None));

        AssertOneLine(read, path);
        Assert.Contains("has the sign byte 7", read.Message, StringComparison.Ordinal);
        Assert.Equal(read.Message, trickled.Message);
    }

    [Fact]
    public async Task Should_Explain_What_A_Non_Archive_Is()
    {
        using var dir = new Harness.TempDir();
        var path = dir.File("page.html");
        await File.WriteAllTextAsync(path, "<html><body>Sign in</body></html>");

        var e = Assert.Throws<UsageException>(() => ArchiveContents.Read(path));

        Assert.StartsWith($"'{path}' is an HTML page", e.Message, StringComparison.Ordinal);
    }

    private static void AssertOneLine(UsageException e, string path)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith($"'{path}' is truncated or damaged (", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("): dump or download it again. Nothing was changed.", e.Message, StringComparison.Ordinal);
    }

    private static string? Sanitize(string? name) => name?.Replace('\n', ' ').Replace('\r', ' ');

    /// <summary>A stream that cannot seek, gives at most <paramref name="piece"/> bytes a read, and after its bytes waits forever.</summary>
    private sealed class TrickleStream(byte[] bytes, int piece) : Stream
    {
        private int _at;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _at; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_at == bytes.Length)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            var n = Math.Min(Math.Min(piece, buffer.Length), bytes.Length - _at);
            bytes.AsSpan(_at, n).CopyTo(buffer.Span);
            _at += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [GeneratedRegex(@"^(\d+); .*$")]
    private static partial Regex ListedLine();
}

using System.Text;
using PgRelocate.Archives;
using PgRelocate.Errors;

namespace PgRelocate.Tests.Archives;

/// <summary>
/// Formats 1.15 (pg_dump 16: the compression method in the header) and 1.16 (pg_dump 17 and 18: each entry's
/// relkind). Without a pg_dump of those releases on the test machine, a real pg_dump 15 archive is written
/// again in the newer layout, field by field as pg_backup_archiver.c's WriteHead and WriteToc write it, with
/// its data blocks copied unchanged, and must read back as the same entries.
/// </summary>
[Collection(SampleArchives.Collection)]
public class NewerFormatTests(SampleArchives samples)
{
    [Theory]
    [InlineData(15, "15-file-default")]
    [InlineData(16, "15-file-z0")]
    [InlineData(16, "15-pipe-default")]
    public async Task Should_Read_The_Newer_Layouts(int minor, string archive)
    {
        var original = ArchiveContents.Read(samples.Archives[archive]);
        using var dir = new Harness.TempDir();
        var path = dir.File($"1.{minor}.dump");
        await File.WriteAllBytesAsync(path, Rewrite(original, await File.ReadAllBytesAsync(samples.Archives[archive]), minor));

        var contents = ArchiveContents.Read(path);

        Assert.Equal($"1.{minor}", contents.Header.FormatVersion);
        Assert.Equal(original.Header.Compression, contents.Header.Compression);
        Assert.Equal(original.Header.ServerVersion, contents.Header.ServerVersion);
        Assert.Equal(original.Entries.Select(Comparable), contents.Entries.Select(Comparable));
        Assert.Equal(["hstore"], contents.Extensions);
        await ArchiveFramingCheck.CheckFileAsync(path, CancellationToken.None);

        var bytes = await File.ReadAllBytesAsync(path);
        foreach (var cut in new[] { 20, (int)contents.DataStart - 1, (int)contents.DataStart + 10, bytes.Length - 1 })
        {
            var truncated = dir.File($"cut-{cut}.dump");
            await File.WriteAllBytesAsync(truncated, bytes[..cut]);
            var e = await Assert.ThrowsAsync<UsageException>(() => ArchiveFramingCheck.CheckFileAsync(truncated, CancellationToken.None));
            Assert.StartsWith($"'{truncated}' is truncated or damaged (", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Should_Refuse_A_Format_Newer_Than_It_Knows()
    {
        using var stream = new MemoryStream([.. "PGDMP"u8, 1, 17, 0, 4, 8, 1, 0]);

        var e = Assert.Throws<UsageException>(() => ArchiveContents.ReadAsync(stream, "'new.dump'", CancellationToken.None).GetAwaiter().GetResult());

        Assert.StartsWith("'new.dump' is a pg_dump archive of format 1.17, newer than PgRelocate reads", e.Message, StringComparison.Ordinal);
    }

    private static string Comparable(ArchiveEntry e) =>
        $"{e.Id}|{e.Kind}|{e.Schema}|{e.Tag}|{e.Owner}|{e.Section}|{e.CatalogId}|{e.ObjectId}|{string.Join(",", e.Dependencies)}|{e.Definition}|{e.DropStatement}|{e.CopyStatement}|{e.HasData}";

    /// <summary>The archive in format 1.<paramref name="minor"/>, as pg_dump writes to a pipe (no data offsets).</summary>
    private static byte[] Rewrite(ArchiveContents contents, byte[] original, int minor)
    {
        Assert.Equal(4, contents.Header.IntSize);
        var o = new MemoryStream();
        o.Write("PGDMP"u8);
        o.Write([1, (byte)minor, 0, 4, 8, 1, contents.Header.Compression == "none" ? (byte)0 : (byte)1]);
        foreach (var t in new[] { 1, 2, 3, 22, 10, 126, 0 })
        {
            Int(o, t);
        }

        Str(o, contents.Header.DatabaseName);
        Str(o, contents.Header.ServerVersion);
        Str(o, contents.Header.PgDumpVersion);
        Int(o, contents.Entries.Count);
        foreach (var e in contents.Entries)
        {
            Int(o, e.Id);
            Int(o, e.HasData ? 1 : 0);
            Str(o, e.CatalogId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Str(o, e.ObjectId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Str(o, e.Tag);
            Str(o, e.Kind);
            Int(o, (int)e.Section + 1);
            Str(o, e.Definition);
            Str(o, e.DropStatement);
            Str(o, e.CopyStatement);
            Str(o, e.Schema);
            Str(o, null); // tablespace
            Str(o, e.Kind == "TABLE" ? "heap" : null);
            if (minor >= 16)
            {
                Int(o, e.Kind == "TABLE" ? 'r' : 0);
            }

            Str(o, e.Owner);
            Str(o, "false");
            foreach (var d in e.Dependencies)
            {
                Str(o, d.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            Str(o, null);
            o.Write([e.HasData ? (byte)1 : (byte)3, 0, 0, 0, 0, 0, 0, 0, 0]);
        }

        o.Write(original.AsSpan((int)contents.DataStart));
        return o.ToArray();
    }

    private static void Int(Stream o, int value)
    {
        o.WriteByte(value < 0 ? (byte)1 : (byte)0);
        var v = (uint)Math.Abs(value);
        o.Write([(byte)v, (byte)(v >> 8), (byte)(v >> 16), (byte)(v >> 24)]);
    }

    private static void Str(Stream o, string? s)
    {
        if (s is null)
        {
            Int(o, -1);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(s);
        Int(o, bytes.Length);
        o.Write(bytes);
    }
}

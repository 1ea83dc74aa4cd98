using PgRelocate.Restore;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>The file a restore reads while it is still being written.</summary>
public sealed class ArchiveSpoolTests
{
    [Fact]
    public async Task Should_Let_Readers_Follow_The_Writer_To_The_End()
    {
        using var dir = new TempDir();
        await using var spool = new ArchiveSpool(dir.File("archive"));
        var bytes = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
        await using var early = spool.OpenReader();
        var readEarly = ReadAllAsync(early);

        var writer = Task.Run(async () =>
        {
            foreach (var chunk in bytes.Chunk(65_536))
            {
                await spool.Writer.WriteAsync(chunk);
                // Spaced writes: the readers catch up with the writer and wait for more, as a restore does.
                await Task.Delay(20);
            }

            spool.Complete();
        });
        // The late reader opens once some of the archive is written.
        await Eventually.True(() => spool.Written > 0, TimeSpan.FromMinutes(1), "the writer never wrote", TimeSpan.FromMilliseconds(5));
        await using var late = spool.OpenReader();
        var readLate = ReadAllAsync(late);
        await writer;

        Assert.Equal(bytes, await readEarly);
        Assert.Equal(bytes, await readLate);
        Assert.Equal(bytes.Length, spool.Written);
    }

    [Fact]
    public async Task Should_Fail_Readers_When_The_Writer_Fails()
    {
        using var dir = new TempDir();
        await using var spool = new ArchiveSpool(dir.File("archive"));
        await spool.Writer.WriteAsync(new byte[1000]);
        await using var reader = spool.OpenReader();
        var read = ReadAllAsync(reader);

        spool.Fail(new InvalidOperationException("the upload was refused"));

        var error = await Assert.ThrowsAsync<IOException>(() => read);
        Assert.Contains("the upload was refused", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => spool.Completion);
    }

    [Fact]
    public async Task Should_Write_An_Owner_Only_File()
    {
        using var dir = new TempDir();
        await using var spool = new ArchiveSpool(dir.File("archive"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(spool.Path));
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var all = new MemoryStream();
        await stream.CopyToAsync(all);
        return all.ToArray();
    }
}

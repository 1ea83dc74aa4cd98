using System.Security.Cryptography;
using PgRelocate.Staging;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

/// <summary>
/// Streaming 320 MB into the strict S3 server keeps memory flat: the writer holds one part, not the archive.
/// (The 2 GB run is too slow for CI; 320 MB is over 60 parts, enough to show memory does not grow with
/// size.) It measures the managed heap of this process, sampled while writing, garbage included.
/// </summary>
[Collection(SwiftCollection.Name)]
public sealed class SwiftMemoryTests(SwiftServer server)
{
    [Fact]
    public async Task Should_Stream_320_MB_With_Bounded_Memory()
    {
        const long total = 320L << 20;
        var store = TestStores.S3(server, TestStores.NewName("memory"));
        await store.PrepareAsync(create: true, allowPublic: false, CancellationToken.None);
        var chunk = TestStores.Bytes(1 << 20, seed: 11);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = 0;

        await using (var writer = await StagingWriter.CreateAsync(store, "big.dump", new UploadOptions(), CancellationToken.None))
        {
            for (long written = 0; written < total; written += chunk.Length)
            {
                await writer.WriteAsync(chunk);
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false) - baseline);
            }

            await writer.CommitAsync(CancellationToken.None);
        }

        Assert.Equal(total, (await store.StatAsync("big.dump", CancellationToken.None))!.Size);
        Assert.True(peak < 150L << 20, $"managed memory grew by {peak >> 20} MB while streaming {total >> 20} MB");
        await store.DeleteAsync("big.dump", CancellationToken.None);
    }
}

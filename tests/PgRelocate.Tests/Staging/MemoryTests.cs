using System.Security.Cryptography;
using PgRelocate.Staging;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

/// <summary>
/// Streaming 320 MB into the strict S3 server keeps memory flat: the writer holds one part, not the archive.
/// (The issue's 2 GB run is too slow for CI; 320 MB is over 60 parts, enough to show memory does not grow with
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

/// <summary>
/// The whole command, as a user runs it: `pgrelocate dump --to s3://…` of a database whose archive is a few
/// hundred megabytes (random bytes do not compress), with the CLI process's peak resident memory (VmHWM)
/// read from /proc while it runs. The archive is never held: the peak stays far under its size.
/// </summary>
[Collection(SwiftCollection.Name)]
public sealed class SwiftDumpMemoryTests(SwiftServer swift, Harness.PgServer db) : IClassFixture<Harness.PgServer>
{
    [Fact]
    public async Task Should_Dump_A_Large_Archive_Into_S3_With_The_Cli_Under_200_MB()
    {
        var source = await db.CreateDatabaseAsync("big");
        await db.ExecuteAsync(source.Database, "CREATE EXTENSION IF NOT EXISTS pgcrypto");
        await Harness.PgServer.ExecuteAsync(source, """
            CREATE TABLE blobs (id int, b bytea);
            ALTER TABLE blobs ALTER COLUMN b SET STORAGE EXTERNAL;
            INSERT INTO blobs SELECT g, gen_random_bytes(1024) || gen_random_bytes(1024) FROM generate_series(1, 125000) g;
            """);
        var env = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = swift.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = swift.SecretKey,
            ["AWS_ENDPOINT_URL"] = swift.Endpoint,
        };
        long peakKb = 0;
        using var sampling = new CancellationTokenSource();
        Task sampler = Task.CompletedTask;

        var result = await Harness.CliRunner.RunAsync(
            ["dump", "--source", Harness.CliRunner.Url(source), "--to", $"s3://{TestStores.NewName("bigdump")}/big.dump", "--create-bucket", "--sse", "none", "--json"],
            env,
            TimeSpan.FromMinutes(5),
            p => sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested && File.Exists($"/proc/{p.Id}/status"))
                {
                    try
                    {
                        var line = File.ReadLines($"/proc/{p.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                        if (line is not null)
                        {
                            peakKb = Math.Max(peakKb, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture));
                        }
                    }
                    catch (IOException)
                    {
                        return;
                    }

                    await Task.Delay(50);
                }
            }));
        await sampling.CancelAsync();
        await sampler;

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var archiveBytes = json.RootElement.GetProperty("manifest").GetProperty("archiveBytes").GetInt64();
        Assert.True(archiveBytes > 240L << 20, $"the archive is {archiveBytes >> 20} MB");
        Assert.True(peakKb > 0, "the CLI's memory was sampled");
        Assert.True(peakKb < 200 * 1024, $"the CLI's peak resident memory was {peakKb / 1024} MB while dumping {archiveBytes >> 20} MB");
    }
}

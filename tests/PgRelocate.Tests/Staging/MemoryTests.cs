using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

/// <summary>
/// The whole command, as a user runs it: `pgrelocate dump --to s3://…` of a database whose archive is a few
/// hundred megabytes (random bytes do not compress; over 50 parts), with the CLI process's peak resident
/// memory (VmHWM) read from /proc while it runs. The archive is never held: the peak stays far under its
/// size. Measured in a process of its own, so the tests running beside it in this one cannot skew it.
/// </summary>
[Collection(SwiftCollection.Name)]
[Trait(Tier.Name, Tier.Long)]
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

                    // The sampler's pace: a sample each 50 ms while the dump runs, not a wait for anything.
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

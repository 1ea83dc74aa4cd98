using Amazon.S3.Model;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;
using PgRelocate.Tests.Staging;

namespace PgRelocate.Tests.Faults;

/// <summary>
/// A migration staged through S3 and killed (SIGKILL) during its dump leaves a multipart upload whose parts
/// the store keeps; the upload's id was recorded when it started, so `cancel` aborts it.
/// </summary>
[Collection(SwiftCollection.Name)]
public sealed class AbandonedUploadTests(SwiftServer swift, FaultServers servers) : IClassFixture<FaultServers>
{
    [Fact]
    public async Task Should_Abort_The_Upload_A_Killed_Migration_Left_When_It_Is_Canceled()
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("abandoned_upload");
        var bucket = TestStores.NewName("abandoned");
        using var dir = new TempDir();
        var env = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = swift.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = swift.SecretKey,
            ["AWS_ENDPOINT_URL"] = swift.Endpoint,
        };

        var killed = await CliRunner.RunAsync(
            ["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path,
             "--via", $"s3://{bucket}/app.dump", "--create-bucket", "--sse", "none", "--jobs", "1"],
            new Dictionary<string, string>(env) { [FaultInjection.Variable] = "kill:dump:progress" });
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var leftBehind = await UploadsAsync(bucket);
        var cancel = await CliRunner.RunAsync(["cancel", id, "--workdir", dir.Path], env);

        Assert.Equal(137, killed.ExitCode);
        Assert.Contains("app.dump", leftBehind);
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains("Aborted 1 unfinished upload", cancel.Output, StringComparison.Ordinal);
        Assert.Empty(await UploadsAsync(bucket));
    }

    private async Task<IReadOnlyList<string>> UploadsAsync(string bucket)
    {
        var store = TestStores.S3(swift, bucket);
        var response = await store.Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
        return (response.MultipartUploads ?? []).Select(u => u.Key).ToList();
    }
}

using System.Security.Cryptography;
using PgRelocate.Staging;
using PgRelocate.Staging.Http;
using PgRelocate.Staging.Retry;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

/// <summary>Connections cut mid-transfer by a proxy: uploads retry the part, downloads resume with a Range request.</summary>
[Collection(SwiftCollection.Name)]
public sealed class SwiftFaultTests(SwiftServer server) : IAsyncLifetime
{
    private readonly string _bucket = TestStores.NewName("faults");

    public async Task InitializeAsync() =>
        await TestStores.S3(server, _bucket).PrepareAsync(create: true, allowPublic: false, CancellationToken.None);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Should_Resume_A_Download_Cut_In_The_Middle()
    {
        var data = TestStores.Bytes(12 << 20, seed: 7);
        await TestStores.PutAsync(TestStores.S3(server, _bucket), "cut.dump", data);
        await using var proxy = new CuttingProxy(server.Port, afterBytes: 3 << 20, CutDirection.Download, cuts: 2);
        var store = TestStores.Retrying(TestStores.S3(server, _bucket, endpoint: proxy.Endpoint));

        await using var stream = (ResumingReadStream)await store.OpenReadAsync("cut.dump", 0, CancellationToken.None);
        var read = SHA256.HashData(stream);

        Assert.Equal(SHA256.HashData(data), read);
        Assert.True(stream.Resumes >= 1, "the download should have been cut and resumed");
    }

    [Fact]
    public async Task Should_Resume_A_Presigned_Url_Download_Cut_In_The_Middle()
    {
        var data = TestStores.Bytes(9 << 20, seed: 8);
        await TestStores.PutAsync(TestStores.S3(server, _bucket), "cut-url.dump", data);
        await using var proxy = new CuttingProxy(server.Port, afterBytes: 2 << 20, CutDirection.Download, cuts: 1);
        var url = TestStores.S3(server, _bucket, endpoint: proxy.Endpoint).PresignGet("cut-url.dump", DateTimeOffset.UtcNow.AddMinutes(5));
        TestStores.RegisterSignature(url);
        var store = TestStores.Retrying(new HttpStore());

        await using var stream = (ResumingReadStream)await store.OpenReadAsync(url.AbsoluteUri, 0, CancellationToken.None);

        Assert.Equal(SHA256.HashData(data), SHA256.HashData(stream));
        Assert.Equal(1, stream.Resumes);
    }

    [Fact]
    public async Task Should_Retry_An_Upload_Part_Whose_Connection_Was_Cut()
    {
        var data = TestStores.Bytes((11 << 20) + 5, seed: 9);
        await using var proxy = new CuttingProxy(server.Port, afterBytes: 7 << 20, CutDirection.Upload, cuts: 1);
        var store = TestStores.Retrying(TestStores.S3(server, _bucket, endpoint: proxy.Endpoint));

        await TestStores.PutAsync(store, "cut-upload.dump", data);

        Assert.Equal(1, proxy.Cuts);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await TestStores.GetAsync(TestStores.S3(server, _bucket), "cut-upload.dump")));
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class AzuriteFaultTests(AzuriteServer server) : IAsyncLifetime
{
    private readonly string _container = TestStores.NewName("faults");

    public async Task InitializeAsync() =>
        await TestStores.Azure(server, _container).PrepareAsync(create: true, allowPublic: false, CancellationToken.None);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Should_Resume_Download_And_Retry_Upload_Through_A_Cutting_Proxy()
    {
        var data = TestStores.Bytes((10 << 20) + 3, seed: 10);
        await using (var up = new CuttingProxy(server.Port, afterBytes: 9 << 20, CutDirection.Upload, cuts: 1))
        {
            await TestStores.PutAsync(TestStores.Retrying(TestStores.Azure(server, _container, endpoint: up.Endpoint)), "cut.dump", data);
            Assert.Equal(1, up.Cuts);
        }

        await using var down = new CuttingProxy(server.Port, afterBytes: 4 << 20, CutDirection.Download, cuts: 1);
        var store = TestStores.Retrying(TestStores.Azure(server, _container, endpoint: down.Endpoint));
        await using var stream = (ResumingReadStream)await store.OpenReadAsync("cut.dump", 0, CancellationToken.None);

        Assert.Equal(SHA256.HashData(data), SHA256.HashData(stream));
        Assert.Equal(1, stream.Resumes);
    }
}

using System.Security.Cryptography;
using PgRelocate.Staging;
using PgRelocate.Staging.Http;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

/// <summary>
/// The contract every staging store keeps (see IStagingStore), run against each real server. Subclasses
/// say how to reach their server; the tests are the same for all.
/// </summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    protected abstract IStagingStore CreateStore(string? wrongSecret = null);

    /// <summary>The smallest part the store accepts; uploads above it must go in several parts.</summary>
    protected abstract int MinPartSize { get; }

    /// <summary>s3rver accepts anything: its signature tests would prove nothing.</summary>
    protected virtual bool ChecksSignatures => true;

    /// <summary>Local files have no signed URLs.</summary>
    protected virtual bool CanSign => true;

    protected IStagingStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Store = TestStores.Retrying(CreateStore());
        await Store.PrepareAsync(create: true, allowPublic: false, CancellationToken.None);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Should_Read_Back_What_Was_Written()
    {
        var key = TestStores.NewName("small") + ".dump";
        var data = TestStores.Bytes(100_000);

        await TestStores.PutAsync(Store, key, data);

        Assert.Equal(data, await TestStores.GetAsync(Store, key));
        Assert.Equal(data.Length, (await Store.StatAsync(key, CancellationToken.None))!.Size);
    }

    [Fact]
    public async Task Should_Upload_In_Parts_Above_The_Minimum_Part_Size_And_Read_Ranges()
    {
        var key = "dir/" + TestStores.NewName("multi") + ".dump";
        var data = TestStores.Bytes((MinPartSize * 2) + 123_457, seed: 2);

        await TestStores.PutAsync(Store, key, data);

        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await TestStores.GetAsync(Store, key)));
        var offset = MinPartSize + 17;
        Assert.Equal(data.AsSpan(offset).ToArray(), await TestStores.GetAsync(Store, key, offset));
    }

    [Fact]
    public async Task Should_Say_Not_Found_For_A_Missing_Object_And_Delete_Idempotently()
    {
        var key = TestStores.NewName("missing") + ".dump";

        Assert.Null(await Store.StatAsync(key, CancellationToken.None));
        await Assert.ThrowsAsync<StagingNotFoundException>(() => Store.OpenReadAsync(key, 0, CancellationToken.None));
        await Store.DeleteAsync(key, CancellationToken.None);

        await TestStores.PutAsync(Store, key, TestStores.Bytes(10));
        await Store.DeleteAsync(key, CancellationToken.None);
        await Store.DeleteAsync(key, CancellationToken.None);
        Assert.Null(await Store.StatAsync(key, CancellationToken.None));
    }

    [Fact]
    public async Task Should_Leave_Nothing_Under_The_Key_When_A_Write_Is_Not_Committed()
    {
        var key = TestStores.NewName("aborted") + ".dump";
        var data = TestStores.Bytes(MinPartSize + 1000, seed: 3);

        await using (var writer = await StagingWriter.CreateAsync(Store, key, new UploadOptions(), CancellationToken.None))
        {
            await writer.WriteAsync(data);
            // Disposed without CommitAsync: the dump failed.
        }

        Assert.Null(await Store.StatAsync(key, CancellationToken.None));
    }

    [SkippableFact]
    public async Task Should_Serve_A_Presigned_Url_With_Ranges()
    {
        Skip.IfNot(CanSign, "this store has no signed URLs");

        var key = TestStores.NewName("signed") + ".dump";
        var data = TestStores.Bytes(300_000, seed: 4);
        await TestStores.PutAsync(Store, key, data);

        var url = Store.PresignGet(key, DateTimeOffset.UtcNow.AddMinutes(5));
        TestStores.RegisterSignature(url);
        var http = new HttpStore();

        Assert.Equal(data, await TestStores.GetAsync(http, url.AbsoluteUri));
        Assert.Equal(data.AsSpan(1000).ToArray(), await TestStores.GetAsync(http, url.AbsoluteUri, 1000));
        Assert.Equal(data.Length, (await http.StatAsync(url.AbsoluteUri, CancellationToken.None))!.Size);
        Assert.DoesNotContain("ig=", SignedUrl.Redact(url), StringComparison.Ordinal);
        Assert.Contains("(signed, expires", SignedUrl.Redact(url), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Should_Refuse_An_Expired_Url_And_Say_To_Make_A_New_One()
    {
        Skip.IfNot(CanSign, "this store has no signed URLs");

        var key = TestStores.NewName("expired") + ".dump";
        await TestStores.PutAsync(Store, key, TestStores.Bytes(1000));
        var url = Store.PresignGet(key, DateTimeOffset.UtcNow.AddSeconds(1));
        TestStores.RegisterSignature(url);

        // Time must pass: the URL expires a second after it was signed.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var e = await Assert.ThrowsAnyAsync<StagingException>(() => new HttpStore().OpenReadAsync(url.AbsoluteUri, 0, CancellationToken.None));

        Assert.Contains("expired", e.Message, StringComparison.Ordinal);
        Assert.Contains("pgrelocate url", e.Message, StringComparison.Ordinal);
        Assert.False(e.IsTransient);
    }

    [SkippableFact]
    public async Task Should_Refuse_A_Tampered_Signature()
    {
        Skip.IfNot(ChecksSignatures, "this server accepts any signature, so the test would prove nothing");

        var key = TestStores.NewName("tampered") + ".dump";
        await TestStores.PutAsync(Store, key, TestStores.Bytes(1000));
        var url = Store.PresignGet(key, DateTimeOffset.UtcNow.AddMinutes(5)).AbsoluteUri;
        TestStores.RegisterSignature(new Uri(url));
        var marker = url.Contains("X-Amz-Signature=", StringComparison.Ordinal) ? "X-Amz-Signature=" : "sig=";
        var at = url.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        var tampered = url[..at] + (url[at] == 'A' ? 'B' : 'A') + url[(at + 1)..];

        var e = await Assert.ThrowsAnyAsync<StagingException>(() => new HttpStore().OpenReadAsync(tampered, 0, CancellationToken.None));

        Assert.Contains("signature", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(url[at..], e.Message, StringComparison.Ordinal);
        Assert.False(e.IsTransient);
    }

    [SkippableFact]
    public async Task Should_Refuse_A_Wrong_Secret_Without_Retrying()
    {
        Skip.IfNot(ChecksSignatures, "this server accepts any signature, so the test would prove nothing");

        var wrong = TestStores.Retrying(CreateStore(wrongSecret: Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));

        var e = await Assert.ThrowsAnyAsync<StagingException>(() => TestStores.PutAsync(wrong, TestStores.NewName("wrong") + ".dump", TestStores.Bytes(10)));

        Assert.False(e.IsTransient);
        Assert.Matches("(?i)signature|denied|authenticat", e.Message);
    }
}

[Collection(SwiftCollection.Name)]
public sealed class SwiftStoreContractTests(SwiftServer server) : StoreContractTests
{
    private readonly string _bucket = TestStores.NewName("contract");

    protected override int MinPartSize => server.MinPartSize;

    protected override IStagingStore CreateStore(string? wrongSecret = null) => TestStores.S3(server, _bucket, secret: wrongSecret);
}

[Collection(AzuriteCollection.Name)]
public sealed class AzuriteStoreContractTests(AzuriteServer server) : StoreContractTests
{
    private readonly string _container = TestStores.NewName("contract");

    protected override int MinPartSize => 8 << 20;

    protected override IStagingStore CreateStore(string? wrongSecret = null) => TestStores.Azure(server, _container, key: wrongSecret);
}

[Collection(S3rverCollection.Name)]
public sealed class S3rverStoreContractTests(S3rverServer server) : StoreContractTests
{
    private readonly string _bucket = TestStores.NewName("contract");

    protected override int MinPartSize => server.MinPartSize;

    protected override bool ChecksSignatures => false;

    protected override IStagingStore CreateStore(string? wrongSecret = null) => TestStores.S3(server, _bucket, secret: wrongSecret);
}

public sealed class LocalStoreContractTests : StoreContractTests, IDisposable
{
    private readonly Harness.TempDir _dir = new();

    protected override int MinPartSize => 4 << 20;

    protected override bool ChecksSignatures => false;

    protected override bool CanSign => false;

    protected override IStagingStore CreateStore(string? wrongSecret = null) => new PrefixStore(new PgRelocate.Staging.Local.LocalStore(), _dir.Path);

    public void Dispose() => _dir.Dispose();
}

[Collection(SwiftCollection.Name)]
public sealed class SwiftEncryptionTests(SwiftServer server)
{
    [Fact]
    public async Task Should_Refuse_To_Upload_Unencrypted_Silently_When_The_Store_Lacks_Encryption()
    {
        var store = TestStores.S3(server, TestStores.NewName("sse"), sse: "AES256");
        await store.PrepareAsync(create: true, allowPublic: false, CancellationToken.None);

        var e = await Assert.ThrowsAnyAsync<StagingException>(() => TestStores.PutAsync(store, "a.dump", TestStores.Bytes(10)));

        Assert.Contains("does not support server-side encryption", e.Message, StringComparison.Ordinal);
        Assert.Contains("--sse none", e.Message, StringComparison.Ordinal);
        Assert.Null(await store.StatAsync("a.dump", CancellationToken.None));
    }
}

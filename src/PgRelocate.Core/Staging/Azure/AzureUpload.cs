using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace PgRelocate.Staging.Azure;

/// <summary>
/// A block upload: each part is an uncommitted block (invisible to readers); Put Block List publishes them
/// as the blob. Aborting has nothing to delete: Azure discards uncommitted blocks by itself (within a week),
/// and the blob under the key, if any, is untouched.
/// </summary>
internal sealed class AzureUpload(AzureStore store, string key, UploadOptions options) : IUpload
{
    public int PartSize => 8 << 20;

    public async Task UploadPartAsync(int partNumber, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var content = new ReadOnlyMemoryContent(data);
        content.Headers.ContentLength = data.Length;
        using var _ = await store.SendAsync(
            HttpMethod.Put,
            store.BlobUrl(key, $"comp=block&blockid={Uri.EscapeDataString(BlockId(partNumber))}"),
            store.Display(key),
            cancellationToken,
            content: content);
    }

    public async Task CompleteAsync(int partCount, long totalBytes, CancellationToken cancellationToken)
    {
        var xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for (var n = 1; n <= partCount; n++)
        {
            xml.Append("<Latest>").Append(BlockId(n)).Append("</Latest>");
        }

        xml.Append("</BlockList>");
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(xml.ToString()));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/xml");
        using var _ = await store.SendAsync(
            HttpMethod.Put,
            store.BlobUrl(key, "comp=blocklist"),
            store.Display(key),
            cancellationToken,
            r => r.Headers.TryAddWithoutValidation("x-ms-blob-content-type", options.ContentType),
            content: content);
    }

    public Task AbortAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Block ids must all have the same length within a blob.
    private static string BlockId(int n) => Convert.ToBase64String(Encoding.ASCII.GetBytes(n.ToString("d6", CultureInfo.InvariantCulture)));
}

using PgRelocate.Connections;
using PgRelocate.Dump;

namespace PgRelocate.Archives;

/// <summary>Dumps into a local file the safe way: a temporary name, renamed with its manifest only when complete.</summary>
public static class LocalArchiveFile
{
    public static async Task<DumpManifest> DumpAsync(DumpRunner runner, PgConnectionInfo source, string path, CancellationToken cancellationToken)
    {
        // A crash or a failed dump never leaves a truncated archive under the name a restore would use.
        var partial = path + ".partial";
        try
        {
            DumpManifest manifest;
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                manifest = await runner.RunAsync(source, file, cancellationToken);
                file.Flush(flushToDisk: true);
            }

            await File.WriteAllTextAsync(DumpManifest.PathFor(path), manifest.ToJson(), cancellationToken);
            File.Move(partial, path, overwrite: true);
            return manifest;
        }
        finally
        {
            File.Delete(partial);
        }
    }
}

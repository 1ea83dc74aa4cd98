using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PgRelocate.Tools;

namespace PgRelocate.Staging;

/// <summary>
/// Uploads in progress, recorded in the state folder (<c>uploads/</c>) from the moment a store gives an
/// upload id until it is completed or aborted. A process killed outright (SIGKILL, a machine restart) leaves
/// its record behind, so that <c>migrate --resume</c>, <c>cancel</c> and <c>staged rm</c> can abort the parts
/// it left in the store, which would otherwise be kept (and billed) until a lifecycle rule removes them.
/// </summary>
public static class PendingUploads
{

    /// <summary>One recorded upload: where (as the store displays it), its key, its id and the process that ran it.</summary>
    public sealed record Record(string Object, string Key, string UploadId, int Pid, DateTimeOffset StartedAt);

    private static string Folder => Path.Combine(StatePaths.Root, "uploads");

    /// <summary>Records an upload as started; returns the record's file, to pass to <see cref="Forget"/>.</summary>
    public static string Remember(IStagingStore store, string key, string uploadId)
    {
        ArgumentNullException.ThrowIfNull(store);
        Directory.CreateDirectory(Folder);
        var file = Path.Combine(Folder, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(store.Display(key) + "\n" + uploadId)))[..24] + ".json");
        File.WriteAllText(file, JsonSerializer.Serialize(new Record(store.Display(key), key, uploadId, Environment.ProcessId, DateTimeOffset.UtcNow), PendingUploadsJson.Default.Record));
        return file;
    }

    /// <summary>Removes the record of an upload that was completed or aborted.</summary>
    public static void Forget(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A stale record only costs an idempotent abort later.
        }
    }

    /// <summary>
    /// Aborts the uploads to <paramref name="key"/> of <paramref name="store"/> whose process is gone, and
    /// forgets them. Returns how many were aborted.
    /// </summary>
    public static async Task<int> AbortAbandonedAsync(IStagingStore store, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!Directory.Exists(Folder))
        {
            return 0;
        }

        var aborted = 0;
        foreach (var file in Directory.GetFiles(Folder, "*.json"))
        {
            Record? record;
            try
            {
                record = JsonSerializer.Deserialize(File.ReadAllText(file), PendingUploadsJson.Default.Record);
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                continue;
            }

            if (record is null || record.Object != store.Display(key) || record.Key != key || IsAlive(record.Pid))
            {
                continue;
            }

            await store.AbortUploadAsync(key, record.UploadId, cancellationToken);
            Forget(file);
            aborted++;
        }

        return aborted;
    }

    /// <summary>True when a PgRelocate process with that id runs (a recycled pid of another program does not count).</summary>
    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }

        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains("pgrelocate", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

namespace PgRelocate.Staging.Local;

/// <summary>
/// Files on this machine; keys are absolute paths. An upload writes <c>KEY.partial</c> and renames it over
/// the final name on completion (atomic on one file system), so a reader never sees half an archive.
/// </summary>
internal sealed class LocalStore : IStagingStore
{
    public bool CanWrite => true;

    public string Display(string key) => key;

    public Task<IReadOnlyList<string>> PrepareAsync(bool create, bool allowPublic, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([]);

    public Task<StoredObject?> StatAsync(string key, CancellationToken cancellationToken)
    {
        var info = new FileInfo(key);
        return Task.FromResult(info.Exists ? new StoredObject(info.Length) : null);
    }

    public Task<Stream> OpenReadAsync(string key, long offset, CancellationToken cancellationToken)
    {
        try
        {
            var stream = new FileStream(key, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            stream.Seek(offset, SeekOrigin.Begin);
            return Task.FromResult<Stream>(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StagingNotFoundException($"{key} does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StagingException($"{key} cannot be read: permission denied.", innerException: e);
        }
    }

    public Task<IUpload> StartUploadAsync(string key, UploadOptions options, CancellationToken cancellationToken)
    {
        var dir = Path.GetDirectoryName(key);
        if (dir is not null && !Directory.Exists(dir))
        {
            throw new StagingNotFoundException($"The folder {dir} does not exist: create it first.");
        }

        // The upload is written beside the key and renamed over it: never over a device, FIFO, socket or folder.
        Tools.OutputPaths.EnsureFileOrAbsent(key, "the archive's path");
        Tools.OutputPaths.EnsureFileOrAbsent(key + ".partial", "the archive's path");
        return Task.FromResult<IUpload>(new LocalUpload(key));
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        File.Delete(key);
        return Task.CompletedTask;
    }

    public Uri PresignGet(string key, DateTimeOffset expiresAt) =>
        throw new StagingException($"{key} is a local file: a signed URL needs an s3:// or azure:// location.", exitCode: Errors.ExitCode.Usage);
}

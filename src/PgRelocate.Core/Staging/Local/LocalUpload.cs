namespace PgRelocate.Staging.Local;

/// <summary>Writes parts at their offsets in <c>KEY.partial</c> (so a retried part overwrites itself), then renames.</summary>
internal sealed class LocalUpload(string key) : IUpload
{
    private readonly string _partial = key + ".partial";
    private FileStream? _file;

    public int PartSize => 4 << 20;

    public async Task UploadPartAsync(int partNumber, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            // Owner-only: an archive holds the whole database.
            _file ??= new FileStream(_partial, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                Options = FileOptions.Asynchronous,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            _file.Position = offset;
            await _file.WriteAsync(data, cancellationToken);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StagingException($"Cannot write {_partial}: permission denied.", innerException: e);
        }
        catch (IOException e) when (Errors.DiskSpace.IsFull(e))
        {
            // Permanent: another attempt at the same part fills the same disk. Reported once, not retried.
            throw new StagingException(Errors.DiskSpace.Describe(e, _partial).Message, transient: false, innerException: e);
        }
        catch (IOException e)
        {
            // A local write that failed (a read-only file system, an I/O error) fails the same way again: not retried.
            throw new StagingException($"Cannot write {_partial}: {Tools.OutputPaths.Reason(e)}.", transient: false, innerException: e);
        }
    }

    public async Task CompleteAsync(int partCount, long totalBytes, CancellationToken cancellationToken)
    {
        if (_file is null)
        {
            await UploadPartAsync(1, 0, ReadOnlyMemory<byte>.Empty, cancellationToken);
        }

        try
        {
            _file!.SetLength(totalBytes);
            await _file.FlushAsync(cancellationToken);
            _file.Flush(flushToDisk: true);
        }
        catch (IOException e) when (Errors.DiskSpace.IsFull(e))
        {
            throw new StagingException(Errors.DiskSpace.Describe(e, _partial).Message, transient: false, innerException: e);
        }

        await _file.DisposeAsync();
        _file = null;
        File.Move(_partial, key, overwrite: true);
    }

    public async Task AbortAsync(CancellationToken cancellationToken)
    {
        if (_file is not null)
        {
            await _file.DisposeAsync();
            _file = null;
        }

        File.Delete(_partial);
    }
}

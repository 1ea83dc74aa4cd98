namespace PgRelocate.Errors;

/// <summary>
/// A local write that failed for lack of room: permanent (retrying the same write fills the same disk), so
/// it is reported once, naming the folder and how much room is left there, instead of being retried.
/// </summary>
internal static class DiskSpace
{
    // errno values carried as IOException.HResult on Linux and macOS: ENOSPC, EDQUOT (Linux 122, macOS 69), EFBIG.
    private const int NoSpace = 28;
    private const int QuotaLinux = 122;
    private const int QuotaMac = 69;
    private const int FileTooLarge = 27;

    // Windows: ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL.
    private const int HandleDiskFull = unchecked((int)0x80070027);
    private const int DiskFull = unchecked((int)0x80070070);

    /// <summary>True when <paramref name="e"/> (or an exception inside it) says the disk, a quota or the file size limit is full.</summary>
    public static bool IsFull(Exception? e) => Find(e) is not null;

    private static IOException? Find(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is IOException io && io.HResult is NoSpace or QuotaLinux or QuotaMac or FileTooLarge or HandleDiskFull or DiskFull)
            {
                return io;
            }
        }

        return null;
    }

    /// <summary>
    /// Refuses, before anything is written or changed, when a folder lacks room for what a run will write there:
    /// each write is a folder, about how many bytes, and what they are ("the archive"); writes to one folder are
    /// added up. A folder whose free space cannot be read is not refused.
    /// </summary>
    /// <exception cref="UsageException">A folder has less room than its writes need; <paramref name="next"/> says what to do.</exception>
    public static void RefuseUnlessRoom(IEnumerable<(string Folder, long Bytes, string What)> writes, string next)
    {
        foreach (var folder in writes.Where(w => w.Bytes > 0).GroupBy(w => Path.GetFullPath(w.Folder), StringComparer.Ordinal))
        {
            long free;
            try
            {
                free = new DriveInfo(folder.Key).AvailableFreeSpace;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                continue;
            }

            var needed = folder.Sum(w => w.Bytes);
            if (free < needed)
            {
                var what = string.Join(" and ", folder.Select(w => $"{w.What} ({Progress.Units.Bytes(w.Bytes)})"));
                throw new UsageException(Sentences.NothingWasChanged(
                    $"Not enough room in {folder.Key}: {what} need about {Progress.Units.Bytes(needed)}, and {Progress.Units.Bytes(free)} is free.", next));
            }
        }
    }

    /// <summary>
    /// The error for a full disk while writing <paramref name="path"/> (a file or folder; null when unknown).
    /// </summary>
    public static PgRelocateException Describe(Exception e, string? path)
    {
        // The runtime names the file at the end of its message ("No space left on device : '/x/y'").
        path ??= System.Text.RegularExpressions.Regex.Match(Find(e)?.Message ?? "", ": '(?<path>/[^']+)'$").Groups["path"] is { Success: true } g ? g.Value : null;
        var folder = path is null ? null : Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path));
        var free = "";
        if (folder is not null)
        {
            try
            {
                free = $" ({Progress.Units.Bytes(new DriveInfo(folder).AvailableFreeSpace)} free)";
            }
            catch (Exception probe) when (probe is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // The free space is a courtesy: without it the message still says what to do.
            }
        }

        var limit = Find(e)?.HResult == FileTooLarge ? "the file size limit of this process was reached" : "no space left";
        var where = folder is null ? "on the device being written" : $"on {folder}{free}";
        return new PgRelocateException(
            $"Writing failed: {limit} {where}. Free space there or write elsewhere (--workdir for a migration, another --to path), then run the command again.",
            ExitCode.Failed,
            e);
    }
}

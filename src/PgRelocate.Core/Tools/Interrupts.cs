using System.Collections.Concurrent;
using System.Diagnostics;

namespace PgRelocate.Tools;

/// <summary>
/// What must not outlive this process when it is stopped by a signal: its child processes (pg_dump,
/// pg_restore), its temporary folders, and last words for a journal. A command normally cleans up on its
/// own when its token is cancelled; but a thread stuck in a blocking call (a read from a stalled connection,
/// opening a FIFO nobody opens) never gets the chance, so the signal handler calls <see cref="CleanUp"/>
/// before it ends the process, and nothing is left behind either way.
/// </summary>
public static class Interrupts
{
    private static readonly ConcurrentDictionary<Process, byte> Children = new();
    /// <summary>The name of the file whose lock tells a live process's temporary folder from an abandoned one.</summary>
    public const string LockFile = ".pgrelocate.lock";

    private static readonly ConcurrentDictionary<string, FileStream> Folders = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<Action, byte> LastWords = new();
    private static int _cleanedUp;
    private static int _swept;

    /// <summary>
    /// Creates a temporary folder (as <see cref="Directory.CreateTempSubdirectory"/>) that is deleted if the process
    /// is stopped. The process holds a lock on a file in it while it lives; the first folder a process makes sweeps
    /// away those a process killed outright left (kill -9, a lost machine), which no process holds any more.
    /// </summary>
    public static DirectoryInfo TempFolder(string prefix)
    {
        if (Interlocked.Exchange(ref _swept, 1) == 0)
        {
            SweepAbandoned(Path.GetTempPath(), TimeSpan.FromMinutes(1));
        }

        var dir = Directory.CreateTempSubdirectory(prefix);
        Folders[dir.FullName] = new FileStream(Path.Combine(dir.FullName, LockFile), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        return dir;
    }

    /// <summary>Deletes a folder made by <see cref="TempFolder"/>, quietly when it is already gone or cannot be deleted.</summary>
    public static void DeleteTempFolder(string path)
    {
        if (Folders.TryRemove(path, out var held))
        {
            held.Dispose();
        }

        DeleteQuietly(path);
    }

    /// <summary>
    /// Deletes the folders of <paramref name="parent"/> that <see cref="TempFolder"/> made for a process that is gone:
    /// their lock file is older than <paramref name="olderThan"/> (a folder being made is left alone) and no process
    /// holds it. Returns how many were deleted.
    /// </summary>
    public static int SweepAbandoned(string parent, TimeSpan olderThan)
    {
        var deleted = 0;
        if (FileLockingOff())
        {
            // Without locks every folder looks abandoned, a live process's too.
            return deleted;
        }

        try
        {
            foreach (var dir in Directory.EnumerateDirectories(parent, "pgrelocate-*"))
            {
                var lockFile = Path.Combine(dir, LockFile);
                if (!File.Exists(lockFile) || DateTime.UtcNow - File.GetLastWriteTimeUtc(lockFile) < olderThan || Folders.ContainsKey(dir))
                {
                    continue;
                }

                try
                {
                    // Opening it alone fails while its process lives (the lock is the system's: it goes with the process).
                    using (new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                    {
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue;
                }

                DeleteQuietly(dir);
                deleted++;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Sweeping is a courtesy: a temp folder it cannot read is not the command's business.
        }

        return deleted;
    }

    /// <summary>Keeps <paramref name="process"/> to be killed (with its children) if this process is stopped; dispose when it has exited.</summary>
    public static IDisposable Track(Process process)
    {
        Children[process] = 0;
        return new Untrack(() => Children.TryRemove(process, out _));
    }

    /// <summary>Runs <paramref name="action"/> (quickly, without the network) if the process is stopped before the returned handle is disposed.</summary>
    public static IDisposable OnStop(Action action)
    {
        LastWords[action] = 0;
        return new Untrack(() => LastWords.TryRemove(action, out _));
    }

    /// <summary>Kills the child processes, deletes the temporary folders and runs the last words. Runs once.</summary>
    public static void CleanUp()
    {
        if (Interlocked.Exchange(ref _cleanedUp, 1) != 0)
        {
            return;
        }

        foreach (var child in Children.Keys)
        {
            try
            {
                child.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
            {
                // Already gone.
            }
        }

        foreach (var action in LastWords.Keys)
        {
            try
            {
                action();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                // Last words are best effort: the process is going away whatever they say.
            }
        }

        foreach (var folder in Folders.Keys)
        {
            DeleteQuietly(folder);
        }
    }

    /// <summary>Whether .NET was told not to lock files (its switch or environment variable), so a lock proves nothing.</summary>
    private static bool FileLockingOff() =>
        (AppContext.TryGetSwitch("System.IO.DisableFileLocking", out var off) && off)
        || Environment.GetEnvironmentVariable("DOTNET_SYSTEM_IO_DISABLEFILELOCKING") is "1" or "true" or "True" or "TRUE";

    private static void DeleteQuietly(string path)
    {
        // A killed child may still be closing its files in the folder: try again briefly.
        for (var attempt = 0; attempt < 5 && Directory.Exists(path); attempt++)
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(50);
            }
        }
    }

    private sealed class Untrack(Action undo) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                undo();
            }
        }
    }
}

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
    private static readonly ConcurrentDictionary<string, byte> Folders = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<Action, byte> LastWords = new();
    private static int _cleanedUp;

    /// <summary>Creates a temporary folder (as <see cref="Directory.CreateTempSubdirectory"/>) that is deleted if the process is stopped.</summary>
    public static DirectoryInfo TempFolder(string prefix)
    {
        var dir = Directory.CreateTempSubdirectory(prefix);
        Folders[dir.FullName] = 0;
        return dir;
    }

    /// <summary>Deletes a folder made by <see cref="TempFolder"/>, quietly when it is already gone.</summary>
    public static void DeleteTempFolder(string path)
    {
        Folders.TryRemove(path, out _);
        DeleteQuietly(path);
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

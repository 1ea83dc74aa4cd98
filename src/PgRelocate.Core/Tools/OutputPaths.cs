using System.Runtime.InteropServices;
using PgRelocate.Errors;

namespace PgRelocate.Tools;

/// <summary>
/// Where the tool writes a path the user gave (dump --to and its manifest, --report, --log, --workdir, settings -o):
/// only a regular file, or nothing yet. A device, FIFO, socket or folder is refused: writing a file beside it
/// and renaming it over would replace a device node (as root, /dev/full became a regular file), and writing
/// into it would block or fail halfway. A path the tool could not write is refused before anything changes
/// (<see cref="EnsureWritable"/>), not found out once a target has been emptied.
/// </summary>
public static class OutputPaths
{
    // The file types of .NET's own native layer (System.Native's FileStatus.Mode).
    private const int TypeMask = 0xF000;
    private const int RegularFile = 0x8000;

    /// <summary>Refuses <paramref name="path"/> when it exists (links followed) and is not a regular file.</summary>
    /// <param name="option">How the user gave it, for the message: "--to", "--report".</param>
    /// <exception cref="UsageException">It is a device, FIFO, socket or folder.</exception>
    public static void EnsureFileOrAbsent(string path, string option)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (KindOf(path) is { } kind)
        {
            throw new UsageException($"{option} '{path}' is {kind}, not a regular file: give the path of a file to write. Nothing was changed.");
        }
    }

    /// <summary>
    /// Refuses <paramref name="path"/> unless it is a regular file or nothing yet (<see cref="EnsureFileOrAbsent"/>)
    /// in a folder that exists, and both the file (when there) and its folder can be written now: the file is opened
    /// for writing (nothing in it changes) and a probe file is created and deleted beside it, since the tool writes
    /// some paths beside themselves and renames them over. Not writable as root either: a read-only file system.
    /// </summary>
    /// <param name="option">How the user gave it, for the message: "--log", "--report".</param>
    /// <param name="createsFolder">The writer creates a missing folder (the logs do): then the nearest folder above that exists must be writable.</param>
    /// <exception cref="UsageException">It cannot be written.</exception>
    public static void EnsureWritable(string path, string option, bool createsFolder = false)
    {
        EnsureFileOrAbsent(path, option);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        if (!Directory.Exists(folder))
        {
            if (!createsFolder)
            {
                throw new UsageException($"{option} '{path}': the folder {folder} does not exist: create it, or give a path in a folder that exists. Nothing was changed.");
            }

            Probe(NearestFolder(folder, option, path), option, path);
            return;
        }

        Probe(folder, option, path);
        if (File.Exists(path))
        {
            Try(option, path, () => new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite).Dispose());
        }
    }

    /// <summary>Refuses a folder the tool will create files in (<c>--workdir</c>) unless it, or the nearest folder above it that exists, can be written now.</summary>
    /// <exception cref="UsageException">It is not a folder, or cannot be written.</exception>
    public static void EnsureFolderWritable(string folder, string option)
    {
        ArgumentNullException.ThrowIfNull(folder);
        Probe(NearestFolder(Path.GetFullPath(folder), option, folder), option, folder);
    }

    /// <summary>The folder itself, or the nearest one above it that exists: where creating it starts.</summary>
    private static string NearestFolder(string folder, string option, string given)
    {
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
            {
                throw new UsageException($"{option} '{given}': {existing} is a file, not a folder: give another path. Nothing was changed.");
            }

            existing = Path.GetDirectoryName(existing) ?? "/";
        }

        return existing;
    }

    /// <summary>Creates and deletes a file in <paramref name="folder"/>.</summary>
    private static void Probe(string folder, string option, string given)
    {
        var probe = Path.Combine(folder, $".pgrelocate-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Try(option, given, () =>
        {
            new FileStream(probe, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.DeleteOnClose }).Dispose();
        });
    }

    private static void Try(string option, string given, Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{option} '{given}' cannot be written ({Reason(e)}): give a path this user can write. Nothing was changed.", e);
        }
    }

    /// <summary>Why a local write failed, as the runtime says it without the path it appends (" : '/x/y'"): "read-only file system".</summary>
    public static string Reason(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e is UnauthorizedAccessException)
        {
            return "permission denied";
        }

        var text = e.Message;
        var cut = text.IndexOf(" : '", StringComparison.Ordinal);
        text = (cut > 0 ? text[..cut] : text).Trim().TrimEnd('.');
        return text.Length > 1 ? char.ToLowerInvariant(text[0]) + text[1..] : text;
    }

    /// <summary>What <paramref name="path"/> is when it is not a regular file; null for a regular file or nothing.</summary>
    internal static string? KindOf(string path)
    {
        if (Directory.Exists(path))
        {
            return "a folder";
        }

        var status = new byte[256];
        if (Native.Stat(path, status) != 0)
        {
            return null;
        }

        return (BitConverter.ToInt32(status, 4) & TypeMask) switch
        {
            RegularFile => null,
            0x1000 => "a FIFO",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "not a file",
        };
    }

    private static class Native
    {
        // System.Native ships with the runtime on every platform; its FileStatus starts with Flags, then Mode.
        [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] status);
    }
}

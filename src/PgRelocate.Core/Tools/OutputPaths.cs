using System.Runtime.InteropServices;
using PgRelocate.Errors;

namespace PgRelocate.Tools;

/// <summary>
/// Where the tool writes a path the user gave (dump --to and its manifest, --report, --log, settings -o):
/// only a regular file, or nothing yet. A device, FIFO, socket or folder is refused: writing a file beside it
/// and renaming it over would replace a device node (as root, /dev/full became a regular file), and writing
/// into it would block or fail halfway.
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

using System.Collections.Concurrent;
using System.Security.Cryptography;
using PgRelocate.Tools;

namespace PgRelocate.Connections;

/// <summary>
/// Hands libpq programs the parameters libpq reads from no environment variable (sslpassword, the key's
/// passphrase): a service file only this user can read, named by PGSERVICEFILE and PGSERVICE, never the
/// command line, where every user of the machine could read it. Without it pg_dump would ask for the
/// passphrase on the terminal, and wait. The files are deleted when the process exits or is stopped, and swept
/// away by the next run when it was killed outright.
/// </summary>
internal static class LibpqServiceFile
{
    public const string Service = "pgrelocate";

    private static readonly ConcurrentDictionary<string, string> Files = new(StringComparer.Ordinal);
    private static readonly Lazy<string> Folder = new(CreateFolder);

    /// <summary>The path of a service file holding <paramref name="sslPassword"/>; the same file for the same value.</summary>
    public static string For(string sslPassword) => Files.GetOrAdd(sslPassword, Write);

    private static string Write(string sslPassword)
    {
        var path = Path.Combine(Folder.Value, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + ".conf");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(path, options);
        writer.Write($"[{Service}]\nsslpassword={sslPassword}\n");
        return path;
    }

    /// <summary>
    /// A temporary folder of the tool's (<see cref="Interrupts.TempFolder"/>: only this user may enter it, it is deleted
    /// when the process is stopped by a signal, and the next run sweeps it away if the process was killed outright),
    /// deleted when the process exits.
    /// </summary>
    private static string CreateFolder()
    {
        var folder = Interrupts.TempFolder("pgrelocate-libpq-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Interrupts.DeleteTempFolder(folder);
        return folder;
    }
}

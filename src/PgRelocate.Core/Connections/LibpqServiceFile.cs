using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace PgRelocate.Connections;

/// <summary>
/// Hands libpq programs the parameters libpq reads from no environment variable (sslpassword, the key's
/// passphrase): a service file only this user can read, named by PGSERVICEFILE and PGSERVICE, never the
/// command line, where every user of the machine could read it. Without it pg_dump would ask for the
/// passphrase on the terminal, and wait. The files are deleted when the process exits.
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

    private static string CreateFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "pgrelocate-libpq-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return folder;
    }
}

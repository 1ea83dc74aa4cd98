using System.Diagnostics;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// A folder on a read-only file system (a tmpfs mounted read-only, unmounted on dispose): not writable even as
/// root, whom file modes do not stop.
/// </summary>
public sealed class ReadOnlyFolder : IDisposable
{
    private readonly TempDir _dir = new();

    public ReadOnlyFolder()
    {
        Run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", _dir.Path);
        Assert.ThrowsAny<IOException>(() => System.IO.File.WriteAllText(File("probe"), "x"));
    }

    public string Path => _dir.Path;

    public string File(string name) => System.IO.Path.Combine(_dir.Path, name);

    public void Dispose()
    {
        Run("umount", _dir.Path);
        _dir.Dispose();
    }

    private static void Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: {error}");
    }
}

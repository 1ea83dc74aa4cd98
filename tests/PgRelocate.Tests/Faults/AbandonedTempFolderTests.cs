using System.Diagnostics;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tools;

namespace PgRelocate.Tests.Faults;

/// <summary>
/// A process killed outright (kill -9, a lost machine) cannot delete its temporary folders (a copy's schema
/// archive, a downloaded archive of many gigabytes). The next run sweeps away those whose lock file no process
/// holds, and leaves alone a live process's folder, one being made, and folders that are not the tool's.
/// </summary>
public sealed class AbandonedTempFolderTests
{
    [Fact]
    public async Task Should_Sweep_Only_The_Folders_No_Living_Process_Holds()
    {
        using var temp = new TempDir();
        var abandoned = Folder(temp, "pgrelocate-copy-abandoned", age: TimeSpan.FromHours(1));
        var young = Folder(temp, "pgrelocate-download-young", age: TimeSpan.Zero);
        var heldHere = Folder(temp, "pgrelocate-restore-held", age: TimeSpan.FromHours(1));
        var heldElsewhere = Folder(temp, "pgrelocate-copy-elsewhere", age: TimeSpan.FromHours(1));
        var notOurs = Directory.CreateDirectory(Path.Combine(temp.Path, "pgrelocate-copy-nolock")).FullName;
        await File.WriteAllTextAsync(Path.Combine(notOurs, "schema.dump"), "kept");
        using var held = new FileStream(Path.Combine(heldHere, Interrupts.LockFile), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        // Another process holding its lock, as a running pgrelocate does (flock(1) takes the same kind of lock).
        using var other = Process.Start(new ProcessStartInfo("flock", [Path.Combine(heldElsewhere, Interrupts.LockFile), "sleep", "60"]))!;
        try
        {
            await WaitUntilHeldAsync(Path.Combine(heldElsewhere, Interrupts.LockFile));

            Assert.Equal(1, Interrupts.SweepAbandoned(temp.Path, TimeSpan.FromMinutes(1)));

            Assert.False(Directory.Exists(abandoned));
            Assert.True(Directory.Exists(young));
            Assert.True(Directory.Exists(heldHere));
            Assert.True(Directory.Exists(heldElsewhere));
            Assert.True(File.Exists(Path.Combine(notOurs, "schema.dump")));
        }
        finally
        {
            other.Kill(entireProcessTree: true);
            await other.WaitForExitAsync();
        }

        // Its process gone, the other's folder is abandoned too. flock's child (sleep) holds the lock as well, and
        // may still be exiting when flock's own exit is seen: the sweep is asked once the lock is free.
        await WaitUntilFreeAsync(Path.Combine(heldElsewhere, Interrupts.LockFile));
        Assert.Equal(1, Interrupts.SweepAbandoned(temp.Path, TimeSpan.FromMinutes(1)));
        Assert.False(Directory.Exists(heldElsewhere));
    }

    [Fact]
    public void Should_Hold_Its_Own_Folders_Until_It_Deletes_Them()
    {
        var folder = Interrupts.TempFolder("pgrelocate-test-held-").FullName;
        try
        {
            File.SetLastWriteTimeUtc(Path.Combine(folder, Interrupts.LockFile), DateTime.UtcNow.AddHours(-1));

            Assert.Throws<IOException>(() => new FileStream(Path.Combine(folder, Interrupts.LockFile), FileMode.Open, FileAccess.ReadWrite, FileShare.None).Dispose());
            Assert.True(Directory.Exists(folder));
        }
        finally
        {
            Interrupts.DeleteTempFolder(folder);
        }

        Assert.False(Directory.Exists(folder));
    }

    /// <summary>
    /// The service file that hands libpq a client key's passphrase is in such a folder, only its user's to read: a run
    /// killed outright does not leave the passphrase behind past the next run's sweep.
    /// </summary>
    [Fact]
    public void Should_Keep_A_Key_Passphrase_For_Libpq_In_A_Folder_Its_Process_Holds()
    {
        var file = LibpqServiceFile.For("passphrase " + Guid.NewGuid().ToString("N"));
        var folder = Path.GetDirectoryName(file)!;
        var lockFile = Path.Combine(folder, Interrupts.LockFile);
        File.SetLastWriteTimeUtc(lockFile, DateTime.UtcNow.AddHours(-1));

        Interrupts.SweepAbandoned(Path.GetDirectoryName(folder)!, TimeSpan.FromMinutes(1));

        Assert.StartsWith("pgrelocate-libpq-", Path.GetFileName(folder), StringComparison.Ordinal);
        Assert.True(File.Exists(file));
        Assert.Throws<IOException>(() => new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None).Dispose());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    private static string Folder(TempDir parent, string name, TimeSpan age)
    {
        var dir = Directory.CreateDirectory(Path.Combine(parent.Path, name)).FullName;
        var lockFile = Path.Combine(dir, Interrupts.LockFile);
        File.WriteAllText(lockFile, "");
        File.WriteAllText(Path.Combine(dir, "archive.dump"), "left behind");
        File.SetLastWriteTimeUtc(lockFile, DateTime.UtcNow - age);
        return dir;
    }

    private static Task WaitUntilHeldAsync(string lockFile) =>
        Eventually.True(() => !Free(lockFile), TimeSpan.FromSeconds(5), "flock never took the lock", TimeSpan.FromMilliseconds(50));

    private static Task WaitUntilFreeAsync(string lockFile) =>
        Eventually.True(() => Free(lockFile), TimeSpan.FromSeconds(5), "the killed flock and its child never let the lock go", TimeSpan.FromMilliseconds(50));

    /// <summary>Whether this process can take <paramref name="lockFile"/> for itself (no other holds it).</summary>
    private static bool Free(string lockFile)
    {
        try
        {
            new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None).Dispose();
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}

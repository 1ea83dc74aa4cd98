using System.Runtime.InteropServices;

namespace PgRelocate.Tools;

/// <summary>
/// Asks another process to stop: SIGTERM, sent with the kill system call (no <c>kill</c> child). The process
/// cleans up as its own signal handler decides (see <see cref="Interrupts"/>); .NET's
/// <see cref="System.Diagnostics.Process.Kill()"/> would send SIGKILL, which leaves it no chance to.
/// </summary>
public static class ProcessSignals
{
    private const int SigTerm = 15;

    /// <summary>Sends SIGTERM to process <paramref name="pid"/>; false when there is no such process (or it may not be signalled).</summary>
    public static bool Terminate(int pid) => pid > 0 && Native.Kill(pid, SigTerm) == 0;

    private static class Native
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }
}

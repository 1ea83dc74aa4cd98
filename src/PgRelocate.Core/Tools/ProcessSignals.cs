using System.Globalization;
using System.Runtime.InteropServices;

namespace PgRelocate.Tools;

/// <summary>What became of a signal sent to a process.</summary>
internal enum SignalOutcome
{
    /// <summary>Delivered.</summary>
    Sent,

    /// <summary>No such process.</summary>
    NoProcess,

    /// <summary>The process is another user's, whom this one may not signal.</summary>
    NotPermitted,
}

/// <summary>
/// Asks another process to stop: SIGTERM, sent with the kill system call (no <c>kill</c> child). The process
/// cleans up as its own signal handler decides (see <see cref="Interrupts"/>); .NET's
/// <see cref="System.Diagnostics.Process.Kill()"/> would send SIGKILL, which leaves it no chance to.
/// </summary>
internal static class ProcessSignals
{
    private const int SigTerm = 15;
    private const int NotPermittedErrno = 1;

    /// <summary>Sends SIGTERM to process <paramref name="pid"/>; false when there is no such process (or it may not be signalled).</summary>
    public static bool Terminate(int pid) => TryTerminate(pid) == SignalOutcome.Sent;

    /// <summary>Sends SIGTERM to process <paramref name="pid"/> and says whether it was delivered, or why not.</summary>
    public static SignalOutcome TryTerminate(int pid)
    {
        if (pid <= 0)
        {
            return SignalOutcome.NoProcess;
        }

        return Native.Kill(pid, SigTerm) == 0 ? SignalOutcome.Sent
            : Marshal.GetLastPInvokeError() == NotPermittedErrno ? SignalOutcome.NotPermitted
            : SignalOutcome.NoProcess;
    }

    /// <summary>The name of the user process <paramref name="pid"/> runs as (its real user, from /proc), its number when no name is known; null when it is gone.</summary>
    public static string? Owner(int pid)
    {
        try
        {
            var uid = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?
                .Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1);
            if (uid is null)
            {
                return null;
            }

            var name = File.Exists("/etc/passwd")
                ? File.ReadLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == uid)?[0]
                : null;
            return name ?? "uid " + uid.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static class Native
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }
}

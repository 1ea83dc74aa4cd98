using System.Diagnostics;
using System.Globalization;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// Signals the tests send to the tool under test. A non-interactive shell starts its background jobs (a CI runner's,
/// `nohup … &`) with SIGINT and SIGQUIT ignored; every process they start inherits that, and the runtime leaves an
/// ignored SIGINT ignored, so a Ctrl-C test would wait for a process that never reacts. The tool is started with
/// SIGINT at its default (<see cref="StartInfo"/>), and a signal is sent only to a process that can receive it.
/// </summary>
public static class Signals
{
    /// <summary>How long a process just started may still show the dispositions it inherited (before `env` resets them).</summary>
    private static readonly TimeSpan Settling = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs <paramref name="program"/> through `env --default-signal=INT`, which puts SIGINT back to its default and
    /// then executes it in its place (the same process id), whatever the test runner inherited.
    /// </summary>
    public static ProcessStartInfo StartInfo(string program)
    {
        var info = new ProcessStartInfo("env") { UseShellExecute = false };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add(program);
        return info;
    }

    /// <summary>Sends <paramref name="signal"/> (INT, TERM) to a process, once it is sure the process does not ignore it.</summary>
    public static async Task SendAsync(int pid, string signal)
    {
        await AssertReceivesAsync(pid, signal);
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", signal, pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
    }

    /// <summary>
    /// Fails, saying why, when process <paramref name="pid"/> ignores <paramref name="signal"/> (its SigIgn in
    /// /proc/PID/status), once a process just started had the time to reset what it inherited.
    /// </summary>
    public static async Task AssertReceivesAsync(int pid, string signal)
    {
        var number = signal switch
        {
            "INT" => 2,
            "QUIT" => 3,
            "TERM" => 15,
            _ => throw new ArgumentException($"unknown signal {signal}", nameof(signal)),
        };
        ulong? ignored = null;
        if (!await Eventually.Holds(() => (ignored = Ignored(pid)) is not { } mask || (mask & (1UL << (number - 1))) == 0, Settling, TimeSpan.FromMilliseconds(50)))
        {
            Assert.Fail($"Process {pid} ignores SIG{signal} (SigIgn {ignored:x16}), inherited from whatever started the tests (a background job of a non-interactive shell ignores SIGINT): start the tool through {nameof(CliRunner)}, which resets it.");
        }
    }

    /// <summary>The process's ignored signals as a mask (bit n-1 for signal n); null when it is gone.</summary>
    private static ulong? Ignored(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            return line is null ? null : ulong.Parse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }
}

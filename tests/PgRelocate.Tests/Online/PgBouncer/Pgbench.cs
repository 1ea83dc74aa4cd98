using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Online.PgBouncer;

/// <summary>
/// pgbench (the server's own) as the application: its built-in TPC-B-like transaction on <c>-c</c> clients for
/// <c>-T</c> seconds, with a per-transaction log (<c>-l</c>) read back when it ends: each transaction's latency or
/// its failure, and pgbench's own count of failed transactions and aborted clients.
/// </summary>
internal sealed partial class Pgbench
{
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;
    private readonly string _logPrefix;

    private Pgbench(Process process, string logPrefix)
    {
        _process = process;
        _logPrefix = logPrefix;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Creates pgbench's tables in <paramref name="db"/> (scale 1), directly on the server.</summary>
    public static async Task InitializeAsync(PgConnectionInfo db)
    {
        using var p = Start(db, ["-i", "-s", "1", "-q"]);
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, error);
    }

    /// <summary>
    /// Starts <paramref name="clients"/> clients for <paramref name="seconds"/> through <paramref name="db"/>, together
    /// <paramref name="rate"/> transactions a second (<c>-R</c>), logging every transaction under <paramref name="folder"/>.
    /// Unthrottled, eight clients took both of a small machine's cores for the whole run and slowed every test beside it.
    /// </summary>
    public static Pgbench Run(PgConnectionInfo db, int clients, int seconds, int rate, string folder)
    {
        var prefix = Path.Combine(folder, "tx");
        string[] args = ["-n", "-c", Text(clients), "-j", "2", "-T", Text(seconds), "-R", Text(rate), "-l", "--log-prefix", prefix];
        return new Pgbench(Start(db, args), prefix);
    }

    private static string Text(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>Waits for the end of the run and reads its summary and its per-transaction log.</summary>
    public async Task<PgbenchResult> WaitAsync()
    {
        await _process.WaitForExitAsync();
        var stdout = await _stdout;
        var stderr = await _stderr;
        var latencies = new List<long>();
        var failures = 0;
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(_logPrefix)!, Path.GetFileName(_logPrefix) + ".*"))
        {
            foreach (var line in File.ReadLines(file))
            {
                // client_id transaction_no time script_no time_epoch time_us: time in microseconds, or "failed".
                var fields = line.Split(' ');
                if (long.TryParse(fields[2], CultureInfo.InvariantCulture, out var us))
                {
                    latencies.Add(us);
                }
                else
                {
                    failures++;
                }
            }
        }

        var processed = Processed().Match(stdout) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
        var failed = Failed().Match(stdout) is { Success: true } f ? long.Parse(f.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new PgbenchResult(_process.ExitCode, stdout, stderr, processed, failed, latencies, failures);
    }

    private static Process Start(PgConnectionInfo db, string[] args)
    {
        var bin = PgRelocate.Clusters.ServerBinaries.Find(15) ?? PgRelocate.Clusters.ServerBinaries.Newest();
        var psi = new ProcessStartInfo(Path.Combine(bin, "pgbench"), args) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var (k, v) in db.ToLibpqEnvironment())
        {
            psi.Environment[k] = v;
        }

        return Process.Start(psi)!;
    }

    [GeneratedRegex(@"number of transactions actually processed: (\d+)")]
    private static partial Regex Processed();

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex Failed();
}

/// <summary>What pgbench said and logged: its exit code (0: no client aborted), its counts, each transaction's latency in microseconds.</summary>
internal sealed record PgbenchResult(int ExitCode, string Stdout, string Stderr, long Processed, long Failed, IReadOnlyList<long> Latencies, int LoggedFailures)
{
    public override string ToString() => $"pgbench exit {ExitCode}\n{Stdout}\n{Stderr}";
}

using System.Diagnostics;
using System.Text;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Harness;

/// <summary>What one run of the command line produced.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Runs the real <c>pgrelocate</c> executable as a child process, as a user would, and checks that its
/// output holds none of the harness's secrets.
/// </summary>
public static class CliRunner
{
    /// <summary>
    /// The command line the tests run: the tool <c>make test</c> packs and installs as users do (on linux-x64 a program
    /// compiled to native code; <c>PGRELOCATE_TEST_CLI</c>, a program, or an assembly that <c>dotnet</c> runs), or else the build's copy
    /// beside the tests. Hundreds of runs each compiled the tool's code as it first ran: a third of a second of CPU a
    /// run, minutes of the suite on two cores.
    /// </summary>
    public static string AssemblyPath => Environment.GetEnvironmentVariable("PGRELOCATE_TEST_CLI") is { Length: > 0 } path
        ? path
        : Path.Combine(AppContext.BaseDirectory, "pgrelocate.dll");

    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(args, null);

    public static async Task<CliResult> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, TimeSpan? timeout = null, Action<Process>? onStarted = null, Action<string>? onOutput = null, Func<Task<string>>? onTimeout = null)
    {
        var assembly = AssemblyPath.EndsWith(".dll", StringComparison.Ordinal);
        // With SIGINT at its default, however the tests were started (see Signals).
        var info = Signals.StartInfo(assembly ? "dotnet" : AssemblyPath);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        if (assembly)
        {
            info.ArgumentList.Add(AssemblyPath);
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        // A clean libpq environment: tests must not depend on the machine's PG* variables.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["HOME"] = Path.Combine(Path.GetTempPath(), "pgrelocate-test-home");
        info.Environment["XDG_STATE_HOME"] = Path.Combine(Path.GetTempPath(), "pgrelocate-test-state");
        info.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                info.Environment[k] = v;
            }
        }

        using var p = Process.Start(info)!;
        p.StandardInput.Close();
        onStarted?.Invoke(p);
        var stdout = ReadAsync(p.StandardOutput, onOutput);
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // What it was doing, asked before it is killed (its sessions still there).
            var doing = onTimeout is null ? "" : "\n" + await onTimeout();
            p.Kill(entireProcessTree: true);
            throw new TimeoutException(Secrets.Masked($"pgrelocate {string.Join(' ', args)} did not finish in time.{doing}"));
        }

        var result = new CliResult(p.ExitCode, await stdout, await stderr);
        Secrets.AssertAbsent(result.Output, $"the output of pgrelocate {(args.FirstOrDefault() ?? "")}");
        return result;
    }

    /// <summary>All a stream says; each piece also to <paramref name="onOutput"/> as it comes, so a test can wait for a line of a command still running.</summary>
    private static async Task<string> ReadAsync(StreamReader reader, Action<string>? onOutput)
    {
        if (onOutput is null)
        {
            return await reader.ReadToEndAsync();
        }

        var all = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            var piece = new string(buffer, 0, read);
            all.Append(piece);
            onOutput(piece);
        }

        return all.ToString();
    }

    /// <summary>The URL form a user would paste, password included.</summary>
    public static string Url(PgConnectionInfo info) => info.ToUrl(showPassword: true);
}

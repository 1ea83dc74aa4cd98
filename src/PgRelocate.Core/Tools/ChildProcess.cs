using System.Diagnostics;
using PgRelocate.Errors;

namespace PgRelocate.Tools;

/// <summary>
/// What to run. Secrets go in <see cref="Environment"/> (PGPASSWORD), never in <see cref="Arguments"/>:
/// the arguments are logged and every user of the machine can read them in the process list.
/// </summary>
internal sealed record ChildProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// False: the child gets <see cref="Environment"/> only, nothing of this process's (for a program that
    /// needs no setting at all, such as one asked for its version). True (the default): this process's
    /// environment, with <see cref="Environment"/> over it (see <see cref="ChildProcess.IsolateEnvironment"/>).
    /// </summary>
    public bool InheritEnvironment { get; init; } = true;

    /// <summary>Writes the child's standard input; it is closed when this returns. Null: no input.</summary>
    public Func<Stream, CancellationToken, Task>? Stdin { get; init; }

    /// <summary>Reads the child's standard output to its end. Null: the output is discarded.</summary>
    public Func<Stream, CancellationToken, Task>? Stdout { get; init; }

    /// <summary>Called for each line the child writes to standard error, from a background thread.</summary>
    public Action<string>? StderrLine { get; init; }

    /// <summary>The command line as it is logged: program and arguments, no environment.</summary>
    public string CommandLine => string.Join(' ', new[] { FileName }.Concat(Arguments).Select(Quote));

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./=:,@".Contains(c, StringComparison.Ordinal)) ? arg : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>Runs a child process with its streams wired to delegates; cancelling kills it and its children.</summary>
internal static class ChildProcess
{
    /// <summary>Runs the process to its end and returns its exit code.</summary>
    /// <exception cref="OperationCanceledException">The token was cancelled; the process tree has been killed.</exception>
    /// <exception cref="PgRelocateException">The program could not be started.</exception>
    public static async Task<int> RunAsync(ChildProcessSpec spec, CancellationToken cancellationToken)
    {
        using var process = new Process { StartInfo = StartInfo(spec) };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PgRelocateException($"Could not start {spec.FileName}: {e.Message}.", ExitCode.Failed, e);
        }

        using var tracked = Interrupts.Track(process);
        await using var kill = cancellationToken.Register(() => KillQuietly(process));

        // Standard error is read on a thread of its own, with blocking reads: a verbose pg_restore writes a line or
        // more per entry, thousands a run, and each asynchronous read costs a wake-up of the socket engine and a
        // hand-off to a pool thread (at 1,000 tables, about a fifth of this process's system calls).
        var stderr = Task.Factory.StartNew(() =>
        {
            while (process.StandardError.ReadLine() is { } line)
            {
                spec.StderrLine?.Invoke(line);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var stdout = spec.Stdout is null
            ? process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None)
            : ReadStdout(spec.Stdout, process, cancellationToken);

        var stdin = Task.CompletedTask;
        if (spec.Stdin is not null)
        {
            stdin = WriteStdin(spec.Stdin, process, cancellationToken);
        }

        try
        {
            await Task.WhenAll(stdout, stdin);
        }
        catch
        {
            // The consumer or producer failed (disk full, upload refused, network): the child must not
            // outlive it, or it would wait forever on a pipe nobody reads.
            KillQuietly(process);
            await process.WaitForExitAsync(CancellationToken.None);
            await stderr;
            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }

        await process.WaitForExitAsync(CancellationToken.None);
        await stderr;
        cancellationToken.ThrowIfCancellationRequested();
        return process.ExitCode;
    }

    /// <summary>
    /// What <c><paramref name="program"/> --version</c> prints on standard output, run with an empty
    /// environment (no PG* variable, locale or library path of this process can change it); null when it
    /// could not be started, failed, or took longer than <paramref name="timeout"/> (default 10 seconds), after
    /// which it is killed. The one way a program's version is read (pg_dump, pg_restore, psql, postgres).
    /// It blocks, for the synchronous searches that call it, and reads the child's pipes with blocking reads only:
    /// asynchronous ones complete through the socket engine, so waiting for them here would hold a thread on the
    /// work of others, or, were a caller running on the engine's own thread (inline socket completions, see
    /// docs/benchmarks-history.md), on itself.
    /// </summary>
    public static string? ReadVersion(string program, TimeSpan? timeout = null)
    {
        using var process = new Process { StartInfo = StartInfo(new ChildProcessSpec(program, ["--version"]) { InheritEnvironment = false }) };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }

        using var tracked = Interrupts.Track(process);
        using var limit = new Timer(_ => KillQuietly(process), null, timeout ?? TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan);
        // Standard error on a thread of its own, so that neither pipe can fill while the other is read.
        var stderr = Task.Factory.StartNew(() => process.StandardError.ReadToEnd(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var output = process.StandardOutput.ReadToEnd();
        stderr.Wait();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : null;
    }

    /// <summary>How <paramref name="spec"/> is started: its arguments, its pipes, and the environment it may see.</summary>
    private static ProcessStartInfo StartInfo(ChildProcessSpec spec)
    {
        var info = new ProcessStartInfo(spec.FileName)
        {
            RedirectStandardInput = spec.Stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in spec.Arguments)
        {
            info.ArgumentList.Add(arg);
        }

        if (spec.InheritEnvironment)
        {
            IsolateEnvironment(info.Environment, spec.Environment);
        }
        else
        {
            info.Environment.Clear();
        }

        foreach (var (key, value) in spec.Environment)
        {
            info.Environment[key] = value;
        }

        return info;
    }

    private static async Task ReadStdout(Func<Stream, CancellationToken, Task> consumer, Process process, CancellationToken cancellationToken)
    {
        var stream = process.StandardOutput.BaseStream;
        await consumer(stream, cancellationToken);
        // Drain whatever the consumer left so the child is not blocked on a full pipe.
        if (stream.CanRead)
        {
            await stream.CopyToAsync(Stream.Null, cancellationToken);
        }
    }

    private static async Task WriteStdin(Func<Stream, CancellationToken, Task> producer, Process process, CancellationToken cancellationToken)
    {
        var stream = process.StandardInput.BaseStream;
        try
        {
            await producer(stream, cancellationToken);
        }
        catch (IOException) when (process.HasExited)
        {
            // The child stopped reading (it failed, and its exit code and stderr say why).
        }
        finally
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Broken pipe: the child has exited.
            }
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>
    /// Makes a child's environment hold only the connection it was given: every <c>PG*</c> variable of this
    /// process that <paramref name="given"/> does not set is removed, so that a PGSSLMODE or PGHOST the parser
    /// did not read into the connection cannot change what pg_dump or pg_restore connect to. Only applies
    /// when <paramref name="given"/> carries a connection (PGHOST).
    /// </summary>
    public static void IsolateEnvironment(IDictionary<string, string?> environment, IReadOnlyDictionary<string, string> given)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(given);
        if (!given.ContainsKey("PGHOST"))
        {
            return;
        }

        foreach (var key in environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal) && !k.StartsWith("PG_", StringComparison.Ordinal) && !given.ContainsKey(k)).ToList())
        {
            environment.Remove(key);
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PgRelocate.Tests.Harness.Servers;

/// <summary>Starting and stopping the test servers' processes, by their own PIDs, on 127.0.0.1 free ports.</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, string name, string logFile)
    {
        _process = process;
        Name = name;
        LogFile = logFile;
    }

    public string Name { get; }

    public string LogFile { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>A port nothing listens on right now (the OS picks it).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The repository root, where .tools/ holds the npm servers scripts/setup.sh installed.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PgRelocate.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (PgRelocate.sln) above the test binaries.");
    }

    public static string NodeTool(string name)
    {
        var path = Path.Combine(RepoRoot(), ".tools", "node_modules", ".bin", name);
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run scripts/setup.sh (make setup).");
    }

    public static ServerProcess Start(string name, string logDir, string fileName, params string[] args)
    {
        var log = Path.Combine(logDir, name + ".log");
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var p = Process.Start(info)!;
        p.StandardInput.Close();
        var writer = new StreamWriter(log) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => Write(writer, e.Data);
        p.ErrorDataReceived += (_, e) => Write(writer, e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new ServerProcess(p, name, log);
    }

    /// <summary>Waits until the URL answers (any status) or the process dies.</summary>
    public static async Task WaitForHttpAsync(string url, IEnumerable<ServerProcess> processes, TimeSpan? timeout = null)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var answered = await Eventually.Holds(
            async () =>
            {
                foreach (var p in processes)
                {
                    if (p.HasExited)
                    {
                        throw new InvalidOperationException($"{p.Name} exited during start-up: {Tail(p.LogFile)}");
                    }
                }

                try
                {
                    using var r = await client.GetAsync(url);
                    return (int)r.StatusCode < 500;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            },
            timeout ?? TimeSpan.FromSeconds(60));
        if (!answered)
        {
            throw new TimeoutException($"{url} did not answer in time.");
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private static string Tail(string file)
    {
        try
        {
            return string.Join('\n', File.ReadLines(file).TakeLast(15));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private static void Write(StreamWriter writer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (writer)
        {
            writer.WriteLine(line);
        }
    }
}

using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// Serves the files of one folder over plain HTTP on 127.0.0.1, with HEAD and single Range requests, as a
/// web server or an object store's public URL would: restores "from a URL" read an archive through it.
/// </summary>
public sealed partial class FileHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _root;
    private readonly Task _loop;

    public FileHttpServer(string root)
    {
        _root = Path.GetFullPath(root);
        for (var attempt = 0; ; attempt++)
        {
            Port = Servers.ServerProcess.FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 3)
            {
            }
        }

        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; private set; }

    /// <summary>How the server misbehaves for a file name (none by default): what a failing or lying web server does.</summary>
    public Func<string, HttpFault> Fault { get; set; } = _ => HttpFault.None;

    /// <summary>The URL of <paramref name="fileName"/> in the served folder.</summary>
    public string Url(string fileName) => $"http://127.0.0.1:{Port}/{Uri.EscapeDataString(fileName)}";

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(context));
        }
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            var name = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath.TrimStart('/'));
            var path = Path.GetFullPath(Path.Combine(_root, name));
            if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(path))
            {
                response.StatusCode = 404;
                return;
            }

            var fault = Fault(name);
            if (fault == HttpFault.ServerError)
            {
                response.StatusCode = 500;
                return;
            }

            await using var file = File.OpenRead(path);
            long from = 0, to = file.Length - 1;
            response.AddHeader("Accept-Ranges", "bytes");
            response.ContentType = "application/octet-stream";
            // A server cutting bodies short here serves no ranges either: a download cannot resume.
            var range = RangeHeader().Match(fault == HttpFault.CutShort ? "" : context.Request.Headers["Range"] ?? "");
            if (range.Success)
            {
                from = long.Parse(range.Groups[1].Value, CultureInfo.InvariantCulture);
                if (range.Groups[2].Success)
                {
                    to = Math.Min(to, long.Parse(range.Groups[2].Value, CultureInfo.InvariantCulture));
                }

                if (from > to)
                {
                    response.StatusCode = 416;
                    response.AddHeader("Content-Range", $"bytes */{file.Length}");
                    return;
                }

                response.StatusCode = 206;
                response.AddHeader("Content-Range", $"bytes {from}-{to}/{file.Length}");
            }

            response.ContentLength64 = to - from + 1;
            if (context.Request.HttpMethod == "HEAD")
            {
                return;
            }

            // A resumed download answered from the first byte, though the headers say the range asked for.
            file.Seek(fault == HttpFault.ResumeFromStart ? 0 : from, SeekOrigin.Begin);
            var buffer = new byte[81920];
            var cutAt = to > from && (fault == HttpFault.CutShort || (fault == HttpFault.ResumeFromStart && !range.Success)) ? (to - from + 1) / 2 : long.MaxValue;
            for (var left = to - from + 1; left > 0;)
            {
                if (to - from + 1 - left >= cutAt)
                {
                    response.Abort();
                    return;
                }

                var n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(Math.Min(buffer.Length, left), Math.Max(1, cutAt - (to - from + 1 - left)))));
                if (n == 0)
                {
                    break;
                }

                await response.OutputStream.WriteAsync(buffer.AsMemory(0, n));
                left -= n;
            }
        }
        catch (Exception e) when (e is HttpListenerException or IOException)
        {
            // The reader went away: nothing to answer.
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    public void Dispose()
    {
        // Close alone, not Stop then Close: after Stop has let go of the port, Close looks the port up again and
        // binds it anew to do so, which fails when another test's server has taken it meanwhile ("Address already
        // in use", seen once in a full run).
        try
        {
            _listener.Close();
        }
        catch (HttpListenerException)
        {
        }

        _loop.Wait(TimeSpan.FromSeconds(5));
    }

    [GeneratedRegex(@"^bytes=(\d+)-(\d+)?$")]
    private static partial Regex RangeHeader();
}

/// <summary>How a <see cref="FileHttpServer"/> misbehaves for a file.</summary>
public enum HttpFault
{
    None,

    /// <summary>Every request answered HTTP 500.</summary>
    ServerError,

    /// <summary>Every body cut in its middle (the connection dropped after half of it), and no ranges served: a download cannot resume.</summary>
    CutShort,

    /// <summary>A whole-file GET cut in its middle, and a ranged GET from a later byte answered 206 with the file from its first byte.</summary>
    ResumeFromStart,
}

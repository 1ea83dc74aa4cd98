namespace PgRelocate.Copy;

/// <summary>
/// The run's log file: child process output and statements, from several workers at once. Lines are written in
/// blocks, at most <see cref="FlushEvery"/> after they are logged, and all of them when the copy ends, fails or is
/// cancelled: written line by line, the pre-data and post-data sections' thousands of lines at 1,000 tables were as
/// many system calls. A copy killed outright loses at most that last moment's lines.
/// </summary>
internal sealed class CopyLog : IAsyncDisposable
{
    private static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(250);
    private readonly StreamWriter _writer;
    private readonly Lock _lock = new();
    private readonly Timer _flush;

    public CopyLog(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _writer = new StreamWriter(Path, append: false);
        _flush = new Timer(_ => Flush(), null, FlushEvery, FlushEvery);
    }

    public string Path { get; }

    public void Write(string line)
    {
        lock (_lock)
        {
            _writer.WriteLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _flush.DisposeAsync();
        lock (_lock)
        {
            _writer.Dispose();
        }
    }

    private void Flush()
    {
        lock (_lock)
        {
            try
            {
                _writer.Flush();
            }
            catch (ObjectDisposedException)
            {
                // The copy has ended and closed the log.
            }
            catch (IOException)
            {
                // A full disk: the lines stay in the buffer, and the copy's own writes report it.
            }
        }
    }
}

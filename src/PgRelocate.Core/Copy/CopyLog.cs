namespace PgRelocate.Copy;

/// <summary>The run's log file: child process output and statements, from several workers at once.</summary>
internal sealed class CopyLog : IAsyncDisposable
{
    private readonly StreamWriter _writer;
    private readonly Lock _lock = new();

    public CopyLog(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _writer = new StreamWriter(Path, append: false) { AutoFlush = true };
    }

    public string Path { get; }

    public void Write(string line)
    {
        lock (_lock)
        {
            _writer.WriteLine(line);
        }
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}

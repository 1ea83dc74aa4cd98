using System.Text.RegularExpressions;
using PgRelocate.Progress;

namespace PgRelocate.Restore;

/// <summary>Counts pg_restore's verbose lines against the archive's entries; for a stream, bytes read.</summary>
internal sealed partial class RestoreProgress(IReporter reporter, int? entries, long? length)
{
    private readonly Lock _lock = new();
    private int _done;
    private long _bytes;
    private long _lastBytes;
    private string? _current;

    public void OnLine(string line)
    {
        var m = StepLine().Match(line);
        if (!m.Success)
        {
            return;
        }

        lock (_lock)
        {
            _done++;
            _current = m.Groups[1].Value;
            Report(false);
        }
    }

    public void OnBytes(long bytes)
    {
        lock (_lock)
        {
            _bytes = bytes;
            if (_bytes - _lastBytes >= 1 << 20)
            {
                _lastBytes = _bytes;
                Report(false);
            }
        }
    }

    public void Finish()
    {
        lock (_lock)
        {
            Report(true);
        }
    }

    private void Report(bool finished)
    {
        if (entries is { } total)
        {
            reporter.Progress(new ProgressUpdate(RestoreRunner.ProgressTask, finished ? total : Math.Min(_done, total), total, "items", _current, Finished: finished));
        }
        else
        {
            reporter.Progress(new ProgressUpdate(RestoreRunner.ProgressTask, _bytes, length, "bytes", _current, _bytes, finished));
        }
    }

    [GeneratedRegex(@"^pg_restore: (?:creating|processing data for|executing|restoring|finished item \d+) (.*)$")]
    private static partial Regex StepLine();
}

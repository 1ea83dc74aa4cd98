using System.Text.RegularExpressions;
using PgRelocate.Progress;

namespace PgRelocate.Restore;

/// <summary>Counts pg_restore's verbose lines against the archive's entries (read from the archive itself).</summary>
internal sealed partial class RestoreProgress(IReporter reporter, int entries)
{
    private readonly Lock _lock = new();
    private int _done;
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

    public void Finish()
    {
        lock (_lock)
        {
            Report(true);
        }
    }

    private void Report(bool finished) =>
        reporter.Progress(new ProgressUpdate(RestoreRunner.ProgressTask, finished ? entries : Math.Min(_done, entries), entries, "items", _current, Finished: finished));

    [GeneratedRegex(@"^pg_restore: (?:creating|processing data for|executing|restoring|finished item \d+) (.*)$")]
    private static partial Regex StepLine();
}

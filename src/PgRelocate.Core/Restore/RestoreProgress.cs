using PgRelocate.Progress;
using PgRelocate.Runners;

namespace PgRelocate.Restore;

/// <summary>Counts pg_restore's steps (<see cref="PgRestoreStep"/>) against the archive's entries (read from the archive itself).</summary>
internal sealed class RestoreProgress(IReporter reporter, int entries)
{
    private readonly Lock _lock = new();
    private int _done;
    private string? _current;

    /// <summary>Counts a step; "processing item N" lines of the parallel mode are not steps of their own (their "finished item N" is).</summary>
    public void OnStep(PgRestoreStep step)
    {
        if (step.Kind == PgRestoreStepKind.Processing)
        {
            return;
        }

        lock (_lock)
        {
            _done++;
            _current = step.Subject;
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
}

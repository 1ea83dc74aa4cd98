using PgRelocate.Progress;

namespace PgRelocate.Copy;

/// <summary>
/// Rows and bytes of one table, summed over the ranges being copied at once, reported at most every
/// megabyte; and the total over all tables. A table that ends before its first megabyte is only counted in the
/// total: at thousands of small tables, a line (or a live bar) each buried the progress that mattered, and drawing
/// a thousand bars took a fifth of a copy's time on a terminal. Every table's step is in the copy's log and report.
/// </summary>
internal sealed class TableProgress(IReporter reporter, string table, long estimatedRows, CopyProgressTotals totals)
{
    private const long ReportEvery = 1 << 20;

    private readonly Lock _lock = new();
    private long _rows;
    private long _bytes;
    private long _reported;

    public long Rows => _rows;

    public long Bytes => _bytes;

    public void Add(long rows, long bytes)
    {
        lock (_lock)
        {
            _rows += rows;
            _bytes += bytes;
            if (_bytes - _reported >= ReportEvery)
            {
                _reported = _bytes;
                reporter.Progress(new ProgressUpdate("copy " + table, _rows, estimatedRows > _rows ? estimatedRows : null, "rows", null, _bytes));
            }
        }

        totals.Add(bytes);
    }

    public void Finish()
    {
        lock (_lock)
        {
            if (_reported > 0)
            {
                reporter.Progress(new ProgressUpdate("copy " + table, _rows, _rows, "rows", null, _bytes, Finished: true));
            }
        }

        totals.TableDone();
    }
}

/// <summary>The "data" task: tables done of all, bytes moved so far.</summary>
internal sealed class CopyProgressTotals(IReporter reporter, int tables)
{
    private readonly Lock _lock = new();
    private long _bytes;
    private long _reported;
    private int _done;

    public void Add(long bytes)
    {
        lock (_lock)
        {
            _bytes += bytes;
            if (_bytes - _reported >= 8 * (1 << 20))
            {
                _reported = _bytes;
                reporter.Progress(new ProgressUpdate("data", _done, tables, "tables", null, _bytes));
            }
        }
    }

    public void TableDone()
    {
        lock (_lock)
        {
            _done++;
            reporter.Progress(new ProgressUpdate("data", _done, tables, "tables", null, _bytes, Finished: _done == tables));
        }
    }
}

using PgRelocate.Preflight;
using PgRelocate.Progress;

namespace PgRelocate.Migration;

/// <summary>The part of a migration's time a step's duration counts toward, set beside the estimate's prediction of it.</summary>
public enum EstimatedPart
{
    /// <summary>The direct copy, or an online migration's snapshot copy.</summary>
    Copy,

    /// <summary>pg_dump and pg_restore (and, staged, the store's upload before the restore).</summary>
    DumpRestore,

    /// <summary>The store's upload and download only: counted in the staged path, not in dump + restore.</summary>
    Stage,
}

/// <summary>Seconds, bytes and rates of the estimate's vocabulary; each null where it was not predicted or did not happen.</summary>
public sealed class EstimateFigures
{
    public double? CopySeconds { get; set; }

    public double? DumpRestoreSeconds { get; set; }

    public double? StagedSeconds { get; set; }

    public double? SourceWalBytesPerSecond { get; set; }

    public double? CatchUpSeconds { get; set; }

    public double? OfflineDowntimeSeconds { get; set; }

    public double? OnlineDowntimeSeconds { get; set; }
}

/// <summary>
/// What <c>check</c>'s estimate predicted at the start of a migration and what the migration then took, kept in its
/// journal: the report sets them side by side, and the next estimate between the same two servers is corrected by
/// how far this one was off (<see cref="EstimateHistory"/>). Written by the check step (the prediction), the runner
/// (each step's duration, by the part it counts toward) and the online steps (the catch-up and the write downtime).
/// </summary>
public sealed class EstimatePair
{
    public EstimateFigures Predicted { get; set; } = new();

    /// <summary>The path the estimate recommended, and why.</summary>
    public string? Recommended { get; set; }

    /// <summary>The direct copy's prediction from that run's measurements alone, before a past migration corrected it.</summary>
    public double? MeasuredCopySeconds { get; set; }

    /// <summary>Dump + restore's, likewise.</summary>
    public double? MeasuredDumpRestoreSeconds { get; set; }

    public EstimateFigures Actual { get; set; } = new();

    public static EstimatePair Of(Estimate e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new EstimatePair
        {
            Predicted = new EstimateFigures
            {
                CopySeconds = e.CopySeconds,
                DumpRestoreSeconds = e.DumpRestoreSeconds,
                StagedSeconds = e.StagedSeconds,
                SourceWalBytesPerSecond = e.SourceWalBytesPerSecond,
                CatchUpSeconds = e.CatchUpSeconds,
                OfflineDowntimeSeconds = e.OfflineDowntimeSeconds,
                OnlineDowntimeSeconds = e.OnlineDowntimeSeconds,
            },
            Recommended = $"{e.RecommendedPath}: {e.Why}",
            MeasuredCopySeconds = e.MeasuredCopySeconds,
            MeasuredDumpRestoreSeconds = e.MeasuredDumpRestoreSeconds,
        };
    }

    /// <summary>Counts a finished step's <paramref name="seconds"/> toward the part it belongs to; <paramref name="staged"/>: the migration stages its archive.</summary>
    public void Took(EstimatedPart part, double seconds, bool staged)
    {
        switch (part)
        {
            case EstimatedPart.Copy:
                Actual.CopySeconds = (Actual.CopySeconds ?? 0) + seconds;
                break;
            case EstimatedPart.DumpRestore:
                Actual.DumpRestoreSeconds = (Actual.DumpRestoreSeconds ?? 0) + seconds;
                if (staged)
                {
                    Actual.StagedSeconds = (Actual.StagedSeconds ?? 0) + seconds;
                }

                break;
            case EstimatedPart.Stage:
                Actual.StagedSeconds = (Actual.StagedSeconds ?? 0) + seconds;
                break;
        }
    }

    /// <summary>The pair as the report shows it: a row for each figure predicted or measured.</summary>
    public ReportTable Table()
    {
        var rows = new List<IReadOnlyList<string>>();
        void Row(string what, double? predicted, double? actual, Func<double, string> format)
        {
            if (predicted is null && actual is null)
            {
                return;
            }

            // A ratio to a prediction of a few hundredths of a second says nothing.
            var off = predicted is >= 0.1 && actual is { } a ? $"{a / predicted.Value:0.00}×" : "";
            rows.Add([what, predicted is { } p ? format(p) : "-", actual is { } x ? format(x) : "not run", off]);
        }

        static string Seconds(double s) => Units.Duration(TimeSpan.FromSeconds(s));
        Row("direct copy", Predicted.CopySeconds, Actual.CopySeconds, Seconds);
        Row("dump + restore", Predicted.DumpRestoreSeconds, Actual.DumpRestoreSeconds, Seconds);
        Row("staged (dump, store, restore)", Predicted.StagedSeconds, Actual.StagedSeconds, Seconds);
        Row("online catch-up after the copy", Predicted.CatchUpSeconds, Actual.CatchUpSeconds, Seconds);
        Row("online write downtime", Predicted.OnlineDowntimeSeconds, Actual.OnlineDowntimeSeconds, Seconds);
        return new ReportTable("Estimate and what happened", ["part", "predicted", "took", "took / predicted"], rows,
            Recommended is null ? null : "check recommended " + Recommended);
    }
}

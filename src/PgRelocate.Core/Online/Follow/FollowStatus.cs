using PgRelocate.Migration;
using PgRelocate.Progress;

namespace PgRelocate.Online.Follow;

/// <summary>
/// What a follow shows while it runs: the status file <c>pgrelocate status</c> reads, the progress line, and the
/// lag's history for the report's chart (about a sample every two seconds, bounded however long it runs). Written
/// at most once a second; a change of phase shows at once.
/// </summary>
internal sealed class FollowStatus(string folder, IReporter reporter, string phase)
{
    private readonly Lock _gate = new();
    private DateTime _last = DateTime.MinValue;
    private long _lastChanges;
    private long _lastTransactions;
    private long _lastLagBytes;
    private double _lastLagSeconds;

    /// <summary>The phase shown ("follow", "verify", "cutover").</summary>
    public string Phase { get; private set; } = phase;

    public LagHistory History { get; private set; } = new();

    /// <summary>The tables the follow cannot carry yet, shown with the status.</summary>
    public Func<IReadOnlyList<string>>? Waiting { get; init; }

    /// <summary>Moves into another phase: status and the history say so at once, from the last lag measured.</summary>
    public void MarkPhase(string next)
    {
        lock (_gate)
        {
            Phase = next;
            _last = DateTime.MinValue;
            History.Add(new LagSample(DateTimeOffset.UtcNow, next, _lastLagBytes, _lastLagSeconds, 0));
        }
    }

    /// <summary>Moves into another phase with a history of its own; the last phase's stays with whoever took it.</summary>
    public void StartPhase(string next)
    {
        lock (_gate)
        {
            History = new();
        }

        MarkPhase(next);
    }

    /// <summary>
    /// Writes the status, the progress line and a sample, unless one was written less than a second ago. Called
    /// by the follow after every change it applies, and by its guard when the apply is held up (with
    /// <paramref name="blocked"/>): what it is given costs nothing to pass, the position is put into words only when written.
    /// </summary>
    /// <param name="lagSeconds">How far behind in time; null: as last measured.</param>
    public void WriteIfDue(DateTime now, long changes, long transactions, NpgsqlTypes.NpgsqlLogSequenceNumber appliedLsn, double? lagSeconds, long lagBytes, long retained, string? blocked = null)
    {
        lock (_gate)
        {
            Write(now, changes, transactions, appliedLsn, lagSeconds, lagBytes, retained, blocked);
        }
    }

    private void Write(DateTime now, long changes, long transactions, NpgsqlTypes.NpgsqlLogSequenceNumber appliedLsn, double? lagSeconds, long lagBytes, long retained, string? blocked)
    {
        if (now - _last < TimeSpan.FromSeconds(1))
        {
            return;
        }

        var seconds = _last == DateTime.MinValue ? 1 : (now - _last).TotalSeconds;
        var status = new OnlineStatus
        {
            Phase = Phase,
            AppliedLsn = appliedLsn.ToString(),
            LagBytes = lagBytes,
            LagSeconds = lagSeconds ?? _lastLagSeconds,
            RetainedBytes = retained,
            ChangesPerSecond = Math.Max(0, changes - _lastChanges) / seconds,
            TransactionsPerSecond = Math.Max(0, transactions - _lastTransactions) / seconds,
            Changes = changes,
            Transactions = transactions,
            Blocked = blocked,
            WaitingToCarry = Waiting?.Invoke() is [_, ..] waiting ? waiting : null,
        };
        _last = now;
        _lastChanges = changes;
        _lastTransactions = transactions;
        _lastLagSeconds = status.LagSeconds;
        _lastLagBytes = lagBytes;
        status.Write(folder);
        reporter.Progress(new ProgressUpdate(Phase, changes, null, "changes", status.Describe()));
        History.Add(new LagSample(DateTimeOffset.UtcNow, Phase, status.LagBytes, status.LagSeconds, status.ChangesPerSecond));
    }
}

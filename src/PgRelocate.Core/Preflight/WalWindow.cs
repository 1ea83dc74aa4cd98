using System.Diagnostics;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight;

/// <summary>
/// The source's WAL rate over the estimate's measurement: pg_current_wal_lsn read at its start and end, and around the
/// target's sample (paused then when the target may be the same server, so that it adds none of its own writes;
/// only marked when it is another). A source whose role may not read the position, or in recovery, has no rate:
/// <see cref="Rate"/> is null and the basis says why.
/// </summary>
internal sealed class WalWindow(List<string> basis)
{
    private const string Position = "SELECT (pg_catalog.pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";

    /// <summary>
    /// The least time the WAL is watched before its rate may count as settled: a few of the intervals (a second) at
    /// which busy sessions hand their counts to pg_stat_user_tables, which the busiest tables are read from over the
    /// same time.
    /// </summary>
    private static readonly TimeSpan Least = TimeSpan.FromSeconds(3);

    private readonly SettlingRate _settling = new(Least);

    private bool _readable = true;
    private long _bytes;
    private TimeSpan _counted;
    private (long Lsn, long At)? _open;

    /// <summary>The WAL bytes per second over the window, or null when the position could not be read.</summary>
    public double? Rate => _readable && _counted > TimeSpan.Zero ? _bytes / _counted.TotalSeconds : null;

    public Task OpenAsync(NpgsqlConnection source, CancellationToken cancellationToken) => ResumeAsync(source, cancellationToken);

    public async Task ResumeAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        if (await ReadAsync(source, cancellationToken) is { } lsn)
        {
            _open = (lsn, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Reads the position without closing the window: one more reading for the rate's settling.</summary>
    public async Task MarkAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        await PauseAsync(source, cancellationToken);
        await ResumeAsync(source, cancellationToken);
    }

    public async Task PauseAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        if (_open is { } open && await ReadAsync(source, cancellationToken) is { } lsn)
        {
            _bytes += lsn - open.Lsn;
            _counted += Stopwatch.GetElapsedTime(open.At);
            _settling.Add(_counted, _bytes);
            _open = null;
        }
    }

    /// <summary>
    /// Reads the position every quarter second until <paramref name="left"/> says the time is up, or, once the window has
    /// counted <paramref name="idle"/> without the WAL moving, at once: an idle source has nothing more to show; or once
    /// the rate has settled (<see cref="SettlingRate"/>, watched for at least three seconds); or, after those three
    /// seconds, while it stays under <paramref name="negligible"/> bytes a second, too little to change any prediction
    /// (a source's background writes, a few bytes a second, never settle within a tenth and held the watch to the end
    /// of its budget: 9.5 s of a 10 s check).
    /// </summary>
    public async Task WaitAsync(NpgsqlConnection source, Func<TimeSpan> left, TimeSpan idle, double negligible, CancellationToken cancellationToken)
    {
        var slight = false;
        while (_readable && _open is not null)
        {
            await PauseAsync(source, cancellationToken);
            var remaining = left();
            slight = _counted >= Least && Rate < negligible;
            if (remaining <= TimeSpan.Zero || (_bytes == 0 && _counted >= idle) || _settling.Settled || slight)
            {
                break;
            }

            await ResumeAsync(source, cancellationToken);
            await Task.Delay(remaining < TimeSpan.FromMilliseconds(250) ? remaining : TimeSpan.FromMilliseconds(250), cancellationToken);
        }

        if (Rate is { } rate)
        {
            // A rate too slight to matter says so, settled or not: that is what the catch-up's prediction makes of it.
            var settled = slight && _bytes > 0 ? ", stopped there: under a thousandth of a lane's rate, too little to change the catch-up" : _settling.Settled ? ", where its rate had settled" : "";
            basis.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"source WAL: {Units.Rate(rate)}, pg_current_wal_lsn over {_counted.TotalSeconds:0.#} s{settled}."));
        }
    }

    private async Task<long?> ReadAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        if (!_readable)
        {
            return null;
        }

        try
        {
            return await Db.ScalarAsync<long>(source, Position, cancellationToken);
        }
        catch (PostgresException e)
        {
            _readable = false;
            basis.Add(e.SqlState == PostgresErrorCodes.InsufficientPrivilege
                ? $"source WAL: left out, the source's role may not read the WAL position (pg_current_wal_lsn: {e.MessageText}); no slot WAL or catch-up predicted."
                : $"source WAL: left out, the WAL position could not be read ({e.SqlState}: {e.MessageText}, a standby has none of its own); no slot WAL or catch-up predicted.");
            return null;
        }
    }
}

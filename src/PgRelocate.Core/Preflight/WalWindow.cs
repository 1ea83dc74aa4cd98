using System.Diagnostics;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight;

/// <summary>
/// The source's WAL rate over the estimate's measurement: pg_current_wal_lsn read at its start and end, and around the
/// target's sample (paused then when the target may be the same server, so that it adds none of its own writes;
/// only marked when it is another). A source whose role may not read the position, or in recovery, has no rate:
/// <see cref="Rate"/> is null and the basis says why. On PostgreSQL 14 and later, pg_stat_wal's counts read with each
/// position say how much of the WAL is full-page images, which the basis gives: just after a checkpoint they are most
/// of it, and none of them is a change the follow applies. The predictions still count all of it (see
/// docs/benchmarks.md, "The online catch-up, under load": counted in changes, the catch-up came out shorter still).
/// </summary>
internal sealed class WalWindow(List<string> basis, bool imagesCounted)
{
    /// <summary>Whether pg_stat_wal is read with each position: from PostgreSQL 14, until it cannot be.</summary>
    private bool _imagesCounted = imagesCounted;

    private const string Position = "SELECT (pg_catalog.pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";

    /// <summary>The position with pg_stat_wal's full-page images and bytes, their size (block_size) and whether they are compressed.</summary>
    private const string PositionAndImages = "SELECT (pg_catalog.pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, w.wal_fpi, w.wal_bytes::bigint, pg_catalog.current_setting('block_size')::bigint, pg_catalog.current_setting('wal_compression') NOT IN ('off', 'false', 'no', '0') FROM pg_catalog.pg_stat_wal w";

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
    private (Reading Read, long At)? _open;

    /// <summary>Full-page images and WAL bytes pg_stat_wal counted over the window's counted time; the images' size; whether compressed.</summary>
    private long _images, _statBytes, _blockSize;
    private bool _compressed;

    /// <summary>The WAL bytes per second over the window, or null when the position could not be read.</summary>
    public double? Rate => _readable && _counted > TimeSpan.Zero ? _bytes / _counted.TotalSeconds : null;

    /// <summary>
    /// The share of the window's WAL that is full-page images: pg_stat_wal's images at block_size each over its bytes
    /// (an image is at most a block; its free middle is left out, so this counts them a little large). Null where
    /// pg_stat_wal is not read (before PostgreSQL 14), counted nothing, or the images are compressed (wal_compression),
    /// whose size it does not give.
    /// </summary>
    private double? ImageShare => _imagesCounted && !_compressed && _statBytes > 0 ? Math.Clamp((double)_images * _blockSize / _statBytes, 0, 1) : null;

    /// <summary>The WAL bytes per second that are not full-page images: the changes the follow decodes and applies; the whole rate where the share is unknown.</summary>
    private double? ChangeRate => Rate * (1 - (ImageShare ?? 0));

    public Task OpenAsync(NpgsqlConnection source, CancellationToken cancellationToken) => ResumeAsync(source, cancellationToken);

    public async Task ResumeAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        if (await ReadAsync(source, cancellationToken) is { } reading)
        {
            _open = (reading, Stopwatch.GetTimestamp());
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
        if (_open is { } open && await ReadAsync(source, cancellationToken) is { } reading)
        {
            _bytes += reading.Lsn - open.Read.Lsn;
            if (reading.Images is { } images && open.Read.Images is { } before)
            {
                _images += images - before;
                _statBytes += reading.StatBytes - open.Read.StatBytes;
            }

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
            basis.Add(Images());
        }
    }

    /// <summary>What the basis says of the full-page images: their share and the rate of the rest (the changes), or why their share is unknown.</summary>
    private string Images()
    {
        if (!_imagesCounted)
        {
            return "full-page images: not counted apart (pg_stat_wal: PostgreSQL 14 and later).";
        }

        return ImageShare is { } share
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"full-page images: about {share * 100:0}% of the source's WAL (pg_stat_wal: {_images} of {Units.Bytes(_blockSize)}), each page written whole by its first change after a checkpoint: the slot holds them, the follow decodes the other {Units.Rate(ChangeRate ?? 0)}, the changes.")
            : _compressed ? "full-page images: compressed (wal_compression), their share unknown."
            : "full-page images: none counted.";
    }

    /// <summary>One reading: the WAL position, and pg_stat_wal's full-page images and bytes where they are counted.</summary>
    private readonly record struct Reading(long Lsn, long? Images, long StatBytes);

    private async Task<Reading?> ReadAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        if (!_readable)
        {
            return null;
        }

        try
        {
            if (_imagesCounted)
            {
                try
                {
                    var (lsn, images, bytes, block, compressed) = await Db.SingleAsync(source, PositionAndImages, r => (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetBoolean(4)), cancellationToken);
                    (_blockSize, _compressed) = (block, compressed);
                    return new Reading(lsn, images, bytes);
                }
                catch (PostgresException)
                {
                    // pg_stat_wal not readable here: the position alone, as before PostgreSQL 14, its images counted in.
                    _imagesCounted = false;
                }
            }

            return new Reading(await Db.ScalarAsync<long>(source, Position, cancellationToken), null, 0);
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

using System.Buffers.Binary;
using System.Diagnostics;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Preflight;

/// <summary>
/// The estimate's samples of rows: a table read to nowhere, or read into a scratch table of the target, each for a
/// bounded time. The binary COPY stream is cut at its rows (an int16 field count, then per field an int32 length and
/// the value; -1 ends it), so a sample stopped early still writes whole rows and counts them: the rows read, against
/// the catalog's count, say what share of the table's heap the sample moved. A sample also stops once its rate has
/// settled (<see cref="SettlingRate"/>, watched for at least <see cref="ReadLeast"/> or <see cref="MoveLeast"/>, a lane
/// into the target only past its buffers, or over its whole time once its share cannot take it past them: <see cref="OutOfReach"/>).
/// </summary>
internal static class EstimateSample
{
    /// <summary>The signature, the flags and the header extension's length of a binary COPY stream.</summary>
    private const int Header = 11 + 4 + 4;

    /// <summary>The least time a read's rate is watched before it may count as settled.</summary>
    private static readonly TimeSpan ReadLeast = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The least time a lane into the target is watched, once it has moved the target's shared_buffers, before its
    /// rate may count as settled. A lane slows once its rows have filled the target's free buffers and each new page
    /// must first write out a dirty one (from 150 to 175 MB/s to 80 to 105 on the bench's machine, after one to four
    /// seconds at 256 MB), and the rate after that is the copy's: the lane's rate is taken past its first
    /// shared_buffers, once it has been watched that long there. On a target with more buffers than a sample can fill,
    /// the sample takes its whole share of the budget and its rate is the whole sample's.
    /// </summary>
    private static readonly TimeSpan MoveLeast = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The least time a lane's whole rate is watched before it may stop with the target's buffers out of its reach
    /// (<see cref="OutOfReach"/>): under an application's load a lane's rate over a second or so swings by half
    /// either way, and the index build timed on its rows next is slower a row the fewer they are.
    /// </summary>
    private static readonly TimeSpan OutOfReachLeast = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A sample: the heap bytes it moved (its share of the table), the rows, how long it took, whether it stopped
    /// because its rate had settled, its rate of heap bytes, whether that rate is a lane's past the target's buffers
    /// alone (see <see cref="MoveLeast"/>) rather than the whole sample's, and whether it stopped where its whole
    /// rate had settled with the buffers out of its share's reach (<see cref="OutOfReach"/>).
    /// </summary>
    public readonly record struct Moved(double HeapBytes, long Rows, TimeSpan Took, bool Settled, double HeapRate, bool PastBuffers = false, bool BuffersOutOfReach = false);

    /// <summary>Reads <paramref name="table"/> as the copy does (binary COPY) and drops the rows, for at most <paramref name="limit"/>.</summary>
    public static async Task<Moved> ReadAsync(NpgsqlConnection source, EstimateTable table, TimeSpan limit, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var rows = new Rows();
        var rate = new SettlingRate(ReadLeast);
        await using (var copy = await source.BeginRawBinaryCopyAsync($"COPY {Db.Qualified(table.Schema, table.Name)} TO STDOUT (FORMAT binary)", cancellationToken))
        {
            await PumpAsync(copy, rows, (_, _) => Task.CompletedTask, started, limit, (at, bytes) =>
            {
                rate.Add(at, bytes);
                return rate.Settled;
            }, cancellationToken);
        }

        return Sample(table, rows, Stopwatch.GetElapsedTime(started), rate.Settled);
    }

    /// <summary>
    /// Reads <paramref name="columns"/> of <paramref name="table"/> from the source into <paramref name="scratch"/> on the
    /// target, one lane as the copy runs it, for at most <paramref name="limit"/>; <paramref name="buffers"/>: the
    /// target's shared_buffers in bytes (see <see cref="MoveLeast"/>).
    /// </summary>
    public static async Task<Moved> MoveAsync(NpgsqlConnection source, EstimateTable table, IReadOnlyList<string> columns, NpgsqlConnection target, string scratch, long buffers, TimeSpan limit, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var rows = new Rows();
        var rate = new SettlingRate(MoveLeast, buffers);
        var whole = new SettlingRate(OutOfReachLeast);
        var outOfReach = false;
        var list = string.Join(", ", columns.Select(Db.Ident));
        await using (var into = await target.BeginRawBinaryCopyAsync($"COPY {scratch} FROM STDIN (FORMAT binary)", cancellationToken))
        {
            await using (var from = await source.BeginRawBinaryCopyAsync($"COPY (SELECT {list} FROM {Db.Qualified(table.Schema, table.Name)}) TO STDOUT (FORMAT binary)", cancellationToken))
            {
                await PumpAsync(from, rows, (data, ct) => into.WriteAsync(data, ct).AsTask(), started, limit, (at, bytes) =>
                {
                    rate.Add(at, bytes);
                    whole.Add(at, bytes);
                    outOfReach = buffers > 0 && whole.Settled && OutOfReach(whole.Window, at, bytes, limit, buffers);
                    return rate.Settled || outOfReach;
                }, cancellationToken);
            }

            if (!rows.Ended)
            {
                await into.WriteAsync(new byte[] { 0xFF, 0xFF }, cancellationToken);
            }
        }

        var took = Stopwatch.GetElapsedTime(started);
        var (seconds, bytes) = rate.Window;
        if (buffers <= 0 || seconds < MoveLeast.TotalSeconds || rows.Bytes == 0)
        {
            return Sample(table, rows, took, buffers <= 0 ? rate.Settled : outOfReach) with { BuffersOutOfReach = outOfReach && !rows.Ended };
        }

        // The window's share of the stream's bytes, as the rows' share of the heap: its heap bytes per second.
        var heap = HeapShare(table, rows);
        return new Moved(heap, rows.Count, took, !rows.Ended && rate.Settled, heap * (bytes / rows.Bytes) / seconds, PastBuffers: true);
    }

    /// <summary>A sample whose rate is its whole time's; <paramref name="settled"/>: whether it stopped because that rate had settled.</summary>
    private static Moved Sample(EstimateTable table, Rows rows, TimeSpan took, bool settled)
    {
        var heap = HeapShare(table, rows);
        return new Moved(heap, rows.Count, took, !rows.Ended && settled, heap / Math.Max(took.TotalSeconds, 0.001));
    }

    /// <summary>
    /// Whether a lane into the target, its whole rate settled over <paramref name="window"/> (seconds, bytes) with
    /// <paramref name="bytes"/> sent by <paramref name="at"/>, cannot pass the target's <paramref name="buffers"/> and
    /// then be watched for <see cref="MoveLeast"/> before <paramref name="limit"/>, even at that rate (a lane only slows
    /// past them). Its rate is then its whole time's however long it goes on (a target with more buffers than the
    /// sample can fill took 5 s of a 10 s budget under load, for the rate it had settled at within 2 or 3): it may stop.
    /// </summary>
    internal static bool OutOfReach((double Seconds, double Amount) window, TimeSpan at, double bytes, TimeSpan limit, double buffers)
    {
        if (window.Seconds <= 0)
        {
            return false;
        }

        var left = Math.Max((limit - at - MoveLeast).TotalSeconds, 0);
        return bytes + (window.Amount / window.Seconds * left) < buffers;
    }

    /// <summary>The heap bytes the rows stand for: the whole heap when the table was read to its end, else the rows' share of the catalog's count.</summary>
    private static double HeapShare(EstimateTable table, Rows rows) =>
        rows.Ended ? table.HeapBytes
        : table.Rows > 0 ? table.HeapBytes * Math.Min(1.0, rows.Count / (double)table.Rows)
        : rows.Bytes;

    /// <summary>
    /// Reads the stream, hands on its whole rows (the header first), and stops at its end, after <paramref name="limit"/>,
    /// or once <paramref name="enough"/>, told the time and the bytes read so far, says so.
    /// </summary>
    private static async Task PumpAsync(NpgsqlRawCopyStream from, Rows rows, Func<ReadOnlyMemory<byte>, CancellationToken, Task> forward, long started, TimeSpan limit, Func<TimeSpan, long, bool> enough, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 17];
        var filled = 0;
        var headerLeft = Header;
        while (!rows.Ended)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await from.ReadAsync(buffer.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                break;
            }

            filled += read;
            rows.Bytes += read;
            var whole = 0;
            if (headerLeft > 0)
            {
                if (filled < Header)
                {
                    continue;
                }

                headerLeft = 0;
                whole = Header + BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(Header - 4));
            }

            whole += rows.Cut(buffer.AsSpan(whole, filled - whole));
            await forward(buffer.AsMemory(0, whole), cancellationToken);
            buffer.AsSpan(whole, filled - whole).CopyTo(buffer);
            filled -= whole;
            var elapsed = Stopwatch.GetElapsedTime(started);
            var settled = enough(elapsed, rows.Bytes);
            if (!rows.Ended && (elapsed >= limit || settled))
            {
                await from.CancelAsync();
                break;
            }
        }
    }

    /// <summary>The rows of a binary COPY stream counted so far, the bytes read, and whether its end came.</summary>
    private sealed class Rows
    {
        public long Count { get; private set; }

        public long Bytes { get; set; }

        public bool Ended { get; private set; }

        /// <summary>How many bytes of <paramref name="data"/> are whole rows (and the end mark, when it is there); counts them.</summary>
        public int Cut(ReadOnlySpan<byte> data)
        {
            var whole = 0;
            while (data.Length - whole >= 2)
            {
                var fields = BinaryPrimitives.ReadInt16BigEndian(data[whole..]);
                if (fields == -1)
                {
                    Ended = true;
                    return whole + 2;
                }

                var at = whole + 2;
                for (var f = 0; f < fields; f++)
                {
                    if (data.Length - at < 4)
                    {
                        return whole;
                    }

                    var length = BinaryPrimitives.ReadInt32BigEndian(data[at..]);
                    at += 4 + Math.Max(length, 0);
                    if (at > data.Length)
                    {
                        return whole;
                    }
                }

                whole = at;
                Count++;
            }

            return whole;
        }
    }
}

using System.Buffers;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Copy;

/// <summary>
/// Moves one table, or one page range of it, from a source reader to a target writer as binary COPY: the
/// bytes are forwarded as they arrive (only counted), so nothing is decoded, re-encoded or held in memory
/// beyond one buffer.
/// </summary>
internal static class ChunkCopier
{
    private const int BufferSize = 1 << 17;

    /// <summary>Up to this much, a COPY stays asynchronous; a larger one gets a thread of its own (see <see cref="PumpBinaryAsync"/>).</summary>
    private const long InlineBytes = 8L << 20;

    /// <param name="mark">A statement recording the chunk as copied (see <see cref="CopyRecord"/>), run in the transaction that loads it; null: none.</param>
    /// <param name="emptied">
    /// A whole table the caller has emptied in the writer's open transaction (with others, in one TRUNCATE): the
    /// rows go into that transaction, which the caller ends.
    /// </param>
    /// <param name="locked">The caller has locked the table on the source already (see <see cref="LockAsync"/>).</param>
    /// <param name="freeze">
    /// Whether a whole table's rows are written frozen (COPY FREEZE, which needs the table emptied in the same
    /// transaction). False for a small table loaded, with <paramref name="emptied"/>, into the caller's open
    /// transaction without being emptied there: it is new and empty (see <see cref="SmallTables"/>).
    /// </param>
    /// <returns>The rows and bytes copied.</returns>
    public static async Task<(long Rows, long Bytes)> CopyAsync(NpgsqlConnection reader, NpgsqlConnection writer, DataChunk chunk, TableProgress progress, string? mark, CancellationToken cancellationToken, bool emptied = false, bool locked = false, bool freeze = true)
    {
        var table = chunk.Table!;
        if (!locked)
        {
            await LockAsync(reader, [table], cancellationToken);
        }

        if (table.ConfigCondition is { } condition)
        {
            // An extension's configuration table: the extension's own rows stay; the rows the source added replace the target's.
            await Db.ExecuteAsync(writer, "BEGIN", cancellationToken);
            await Db.ExecuteAsync(writer, $"DELETE FROM ONLY {table.Qualified} {condition}", cancellationToken);
            var config = table.Binary
                ? await PumpBinaryAsync(reader, writer, table.TotalBytes, $"COPY (SELECT {string.Join(", ", table.Columns)} FROM ONLY {table.Qualified} {condition}) TO STDOUT (FORMAT {table.Format})", $"COPY {table.Qualified}{table.ColumnList} FROM STDIN (FORMAT {table.Format})", progress, cancellationToken)
                : await PumpTextAsync(reader, writer, $"COPY (SELECT {string.Join(", ", table.Columns)} FROM ONLY {table.Qualified} {condition}) TO STDOUT (FORMAT {table.Format})", $"COPY {table.Qualified}{table.ColumnList} FROM STDIN (FORMAT {table.Format})", progress, cancellationToken);
            await CommitAsync(writer, mark, cancellationToken);
            return config;
        }

        var copyOut = CopyOut(chunk);
        // A whole table is loaded in the transaction that empties it: COPY FREEZE then writes the rows frozen,
        // so neither the index builds nor the first queries on the target rewrite every page to set hint bits.
        var copyIn = CopyIn(table, freeze: chunk.IsWholeTable && freeze);
        // A whole table is emptied and loaded in one transaction (FREEZE), unless the caller emptied it in its own; a
        // range is loaded in a transaction of its own when it is recorded: its rows and its record commit together.
        var ownTransaction = (chunk.IsWholeTable && !emptied) || mark is not null;
        if (ownTransaction)
        {
            await Db.ExecuteAsync(writer, "BEGIN", cancellationToken);
        }

        if (chunk.IsWholeTable && !emptied)
        {
            await Db.ExecuteAsync(writer, $"TRUNCATE ONLY {table.Qualified}", cancellationToken);
        }

        var rows = table.Binary
            ? await PumpBinaryAsync(reader, writer, chunk.EstimatedBytes, copyOut, copyIn, progress, cancellationToken)
            : await PumpTextAsync(reader, writer, copyOut, copyIn, progress, cancellationToken);

        if (ownTransaction)
        {
            await CommitAsync(writer, mark, cancellationToken);
        }

        return rows;
    }

    /// <summary>
    /// A small whole table's rows, read from the source into memory as its binary COPY sends them: the caller writes
    /// them with <see cref="WriteHeldAsync"/> while the source already sends the next table's. The table is locked
    /// already (see <see cref="LockAsync"/>), and small (<see cref="SmallTables"/>): its rows are held whole.
    /// </summary>
    public static async Task<HeldRows> ReadWholeAsync(NpgsqlConnection reader, CopyTable table, CancellationToken cancellationToken)
    {
        var held = new HeldRows();
        try
        {
            await using var input = await reader.BeginRawBinaryCopyAsync(CopyOut(DataChunk.Whole(table)), cancellationToken);
            int n;
            while ((n = await input.ReadAsync(held.Free(), cancellationToken)) > 0)
            {
                held.Advance(n);
            }

            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes rows <see cref="ReadWholeAsync"/> read into a new, empty table, in the writer's open transaction (not
    /// frozen: see <see cref="SmallTables"/>).
    /// </summary>
    /// <returns>The rows and bytes written.</returns>
    public static async Task<(long Rows, long Bytes)> WriteHeldAsync(NpgsqlConnection writer, CopyTable table, HeldRows rows, TableProgress progress, CancellationToken cancellationToken)
    {
        await using var output = await writer.BeginRawBinaryCopyAsync(CopyIn(table, freeze: false), cancellationToken);
        try
        {
            await output.WriteAsync(rows.Written, cancellationToken);
        }
        catch
        {
            await CancelQuietlyAsync(output);
            throw;
        }

        var counter = new BinaryCopyRowCounter();
        counter.Feed(rows.Written.Span);
        progress.Add(counter.Rows, rows.Written.Length);
        return (counter.Rows, rows.Written.Length);
    }

    private static string CopyOut(DataChunk chunk)
    {
        var table = chunk.Table!;
        return chunk.IsWholeTable
            ? $"COPY {table.Qualified}{table.ColumnList} TO STDOUT (FORMAT {table.Format})"
            : $"COPY (SELECT {string.Join(", ", table.Columns)} FROM ONLY {table.Qualified} WHERE {RangeCondition(chunk)}) TO STDOUT (FORMAT {table.Format})";
    }

    private static string CopyIn(CopyTable table, bool freeze) =>
        $"COPY {table.Qualified}{table.ColumnList} FROM STDIN (FORMAT {table.Format}{(freeze ? ", FREEZE" : "")})";

    /// <summary>
    /// Locks tables on the source in the reader's snapshot transaction, in one statement. NOWAIT: if a DDL statement
    /// is queued behind the coordinator's lock, waiting here would deadlock with it.
    /// </summary>
    public static async Task LockAsync(NpgsqlConnection reader, IReadOnlyList<CopyTable> tables, CancellationToken cancellationToken)
    {
        try
        {
            await Db.ExecuteAsync(reader, $"LOCK TABLE ONLY {string.Join(", ", tables.Select(t => t.Qualified))} IN ACCESS SHARE MODE NOWAIT", cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            var names = tables.Count == 1 ? tables[0].Display : $"one of {Sentences.FirstFew(tables.Select(t => t.Display).ToList(), 3)}";
            throw new PgRelocateException($"Another session on the source is waiting to alter or drop {names}: the copy stopped so as not to block it forever. Run the copy again once schema changes are done.", ExitCode.Failed, e);
        }
    }

    private static async Task CommitAsync(NpgsqlConnection writer, string? mark, CancellationToken cancellationToken)
    {
        await Db.ExecuteAsync(writer, mark is null ? "COMMIT" : mark + "; COMMIT", cancellationToken);
    }

    /// <param name="expectedBytes">About how much will pass: a COPY of more than a few megabytes gets a thread of its own.</param>
    private static async Task<(long Rows, long Bytes)> PumpBinaryAsync(NpgsqlConnection reader, NpgsqlConnection writer, long expectedBytes, string copyOut, string copyIn, TableProgress progress, CancellationToken cancellationToken)
    {
        await using var input = await reader.BeginRawBinaryCopyAsync(copyOut, cancellationToken);
        await using var output = await writer.BeginRawBinaryCopyAsync(copyIn, cancellationToken);
        try
        {
            // The source sends one message per row. Read asynchronously, each row costs a state machine and a
            // registration of the cancellation token: at tens of millions of rows that was most of the tool's
            // CPU, taken from the cores the servers need. So a large COPY moves its bytes with plain, blocking
            // reads and writes on a thread of its own, and a cancellation is one cancel request to the source,
            // which ends its COPY. A small one stays asynchronous: blocking one of the pool's few threads for
            // each of thousands of small tables starved the copy's other work (at 5,000 tables the copy inside
            // `migrate` took 15 to 24 s where it had taken 13 to 17 s).
            return expectedBytes <= InlineBytes
                ? await PumpAsync(input, output, progress, blocking: false, cancellationToken)
                : await Task.Factory.StartNew(() => PumpAsync(input, output, progress, blocking: true, cancellationToken).GetAwaiter().GetResult(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch (Exception e)
        {
            // The target must not keep a partial load: abort its COPY before the error propagates.
            await CancelQuietlyAsync(output);
            if (cancellationToken.IsCancellationRequested && e is not OperationCanceledException)
            {
                throw new OperationCanceledException("The copy was cancelled.", e, cancellationToken);
            }

            throw;
        }
    }

    /// <summary>
    /// Forwards a binary COPY stream: reads fill a buffer before it is forwarded, so there is one write, one count
    /// and one progress update per 128 kB, not per row. <paramref name="blocking"/>: plain reads and writes (the
    /// task is then complete when it returns), cancelled by a cancel request to the source.
    /// </summary>
    private static async Task<(long Rows, long Bytes)> PumpAsync(NpgsqlRawCopyStream input, NpgsqlRawCopyStream output, TableProgress progress, bool blocking, CancellationToken cancellationToken)
    {
        var counter = new BinaryCopyRowCounter();
        long bytes = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        using var cancel = blocking ? cancellationToken.Register(static state => CancelExport((NpgsqlRawCopyStream)state!), input) : default;
        try
        {
            int n, filled = 0;
            do
            {
                cancellationToken.ThrowIfCancellationRequested();
                n = blocking
                    ? input.Read(buffer.AsSpan(filled, BufferSize - filled))
                    : await input.ReadAsync(buffer.AsMemory(filled, BufferSize - filled), cancellationToken);
                filled += n;
                if (filled == BufferSize || (n == 0 && filled > 0))
                {
                    if (blocking)
                    {
                        output.Write(buffer.AsSpan(0, filled));
                    }
                    else
                    {
                        await output.WriteAsync(buffer.AsMemory(0, filled), cancellationToken);
                    }

                    var before = counter.Rows;
                    counter.Feed(buffer.AsSpan(0, filled));
                    bytes += filled;
                    progress.Add(counter.Rows - before, filled);
                    filled = 0;
                }
            }
            while (n > 0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (counter.Rows, bytes);
    }

    /// <summary>Asks the source to end its COPY (a cancel request on a connection of its own): the blocked read then fails.</summary>
    private static void CancelExport(NpgsqlRawCopyStream input)
    {
        try
        {
            input.Cancel();
        }
        catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            // The COPY has ended or the connection is gone: nothing is left to cancel.
        }
    }

    /// <summary>
    /// Text format, for the few tables binary cannot carry. Npgsql hands text COPY over as characters, so the
    /// data is decoded from and re-encoded to UTF-8 on the way, but still never split into rows or values.
    /// </summary>
    private static async Task<(long Rows, long Bytes)> PumpTextAsync(NpgsqlConnection reader, NpgsqlConnection writer, string copyOut, string copyIn, TableProgress progress, CancellationToken cancellationToken)
    {
        long rows = 0;
        long chars = 0;
        var buffer = ArrayPool<char>.Shared.Rent(BufferSize);
        try
        {
            using var input = await reader.BeginTextExportAsync(copyOut, cancellationToken);
            await using var output = await writer.BeginTextImportAsync(copyIn, cancellationToken);
            try
            {
                int n;
                while ((n = await input.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                    // Each row ends with a newline; newlines inside values are escaped as \\n.
                    var lines = buffer.AsSpan(0, n).Count('\n');
                    rows += lines;
                    chars += n;
                    progress.Add(lines, n);
                }
            }
            catch
            {
                await CancelQuietlyAsync(output);
                throw;
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }

        return (rows, chars);
    }

    /// <summary>A TID range (PostgreSQL 14 scans only those pages; older servers filter a full scan).</summary>
    internal static string RangeCondition(DataChunk chunk)
    {
        var from = $"ctid >= '({SourceSnapshot.Number(chunk.FromPage!.Value)},0)'::tid";
        return chunk.ToPage is { } to ? $"{from} AND ctid < '({SourceSnapshot.Number(to)},0)'::tid" : from;
    }

    private static async Task CancelQuietlyAsync(object output)
    {
        try
        {
            await (output is NpgsqlCopyTextWriter text ? text.CancelAsync() : ((NpgsqlRawCopyStream)output).CancelAsync());
        }
        catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            // The connection is already broken: the server has aborted the COPY itself.
        }
    }
}

/// <summary>A small table's COPY data held in memory (<see cref="ChunkCopier.ReadWholeAsync"/>), in a pooled buffer that grows as it fills.</summary>
internal sealed class HeldRows : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int _length;

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>Room for the next read: at least a quarter of what the buffer holds already, and 4 kB.</summary>
    public Memory<byte> Free()
    {
        if (_buffer.Length - _length < Math.Max(4096, _length / 4))
        {
            var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        return _buffer.AsMemory(_length);
    }

    public void Advance(int count) => _length += count;

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _length = 0;
        }
    }
}

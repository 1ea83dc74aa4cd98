using System.Collections.Concurrent;
using Npgsql;
using NpgsqlTypes;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>A table an online copy gave up (see <see cref="CopyYield"/>), and what happened to it, said as "was truncated during the copy".</summary>
internal sealed record YieldedTable(CopyTable Table, string What);

/// <summary>
/// An online copy's way to stay out of the application's way (<see cref="CopyOptions.Yields"/>). The snapshot's
/// session locks no table; each reader locks the tables it copies (NOWAIT) in a savepoint of its own, for the time
/// it copies them. A table it cannot lock (another session holds or awaits it exclusively), one whose file changed
/// since the snapshot (a TRUNCATE or a rewrite: the snapshot would see it empty), one whose columns are gone and one
/// that is gone are given up; and every quarter of a second this session looks for a session waiting to lock a table
/// a reader holds (a TRUNCATE, an ALTER TABLE), and cancels that reader's work, so the waiting statement goes on
/// within a moment. A table given up is not the copy's any more: the caller copies it again later, at a place in
/// the source's order (an online migration's follow, at a marker). The copy itself goes on.
/// </summary>
internal sealed class CopyYield : IAsyncDisposable
{
    /// <summary>How often the readers' locks are looked at: the longest a TRUNCATE waits for a reader, plus its cancel.</summary>
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);

    private static readonly string WaitersSql = CatalogSql.Load("Copy/LockWaiters.sql");

    private readonly NpgsqlConnection _conn;
    private readonly ConcurrentDictionary<int, Watched> _watched = new();
    private readonly ConcurrentDictionary<uint, YieldedTable> _yielded = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private CopyYield(NpgsqlConnection conn)
    {
        _conn = conn;
        _loop = Task.Run(() => LoopAsync(_stop.Token));
    }

    /// <summary>Opens the watching session and starts looking.</summary>
    public static async Task<CopyYield> StartAsync(PgConnectionInfo source, CancellationToken cancellationToken)
    {
        var conn = await CopySessions.OpenAsync(source, "source", cancellationToken);
        return new CopyYield(conn);
    }

    /// <summary>The tables given up so far, in the order of their names.</summary>
    public IReadOnlyList<YieldedTable> Yielded => [.. _yielded.Values.OrderBy(y => y.Table.Display, StringComparer.Ordinal)];

    /// <summary>Whether the table was given up.</summary>
    public bool Has(uint oid) => _yielded.ContainsKey(oid);

    /// <summary>Gives a table up (the first reason found is kept).</summary>
    public void Yield(CopyTable table, string what) => _yielded.TryAdd(table.Oid, new YieldedTable(table, what));

    /// <summary>Watches a reader while it copies these tables: its work is cancelled (<see cref="Watched.Token"/>) when a session waits for one of them.</summary>
    public Watched Watch(int readerPid, IReadOnlyList<CopyTable> tables, CancellationToken cancellationToken)
    {
        var watched = new Watched(this, readerPid, tables, cancellationToken);
        _watched[readerPid] = watched;
        return watched;
    }

    /// <summary>
    /// Whether <paramref name="e"/>, which ended a reader's work on <paramref name="watched"/>'s tables, gives tables up
    /// rather than fails the copy: the watch cancelled it (the tables were given up then), or a table's columns or the
    /// table itself are gone on the source since the snapshot (a column dropped or renamed, the table dropped or renamed).
    /// </summary>
    public bool GivesUp(Exception e, Watched watched)
    {
        if (watched.Cancelled)
        {
            return true;
        }

        if (e is TableCopyException { Table: var table } && e.InnerException is PostgresException p)
        {
            switch (p.SqlState)
            {
                case PostgresErrorCodes.UndefinedColumn:
                    Yield(table, "was altered during the copy (a column it copies is gone)");
                    return true;
                case PostgresErrorCodes.UndefinedTable:
                    Yield(table, "was dropped or renamed during the copy");
                    return true;
            }
        }

        return false;
    }

    /// <summary>What a statement that waited for a reader's table did to it, as the session's statement says (its first word).</summary>
    internal static string WhatWaited(string query)
    {
        var word = query.TrimStart().Split([' ', '\t', '\n', '\r', ';', '('], 2)[0].ToUpperInvariant();
        return word switch
        {
            "TRUNCATE" => "was truncated during the copy",
            "ALTER" => "was altered during the copy",
            "DROP" => "was dropped during the copy",
            _ => "was locked exclusively by another session during the copy (a TRUNCATE, ALTER TABLE, VACUUM FULL, CLUSTER or LOCK waited for it)",
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
        await _conn.DisposeAsync();
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var readers = _watched.Keys.ToArray();
            if (readers.Length == 0)
            {
                continue;
            }

            var waiters = new List<(uint Relation, int[] Blockers, string Query)>();
            try
            {
                await using var cmd = new NpgsqlCommand(WaitersSql, _conn);
                cmd.Parameters.AddWithValue("readers", NpgsqlDbType.Array | NpgsqlDbType.Integer, readers);
                await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await r.ReadAsync(cancellationToken))
                {
                    waiters.Add((r.GetFieldValue<uint>(0), r.GetFieldValue<int[]>(1), r.GetString(2)));
                }
            }
            catch (NpgsqlException) when (!cancellationToken.IsCancellationRequested)
            {
                // A look that failed (a reader's pid gone by then) is taken again a moment later; a copy that fails goes on failing by itself.
                continue;
            }

            foreach (var (relation, blockers, query) in waiters)
            {
                foreach (var pid in blockers)
                {
                    if (_watched.TryGetValue(pid, out var watched))
                    {
                        watched.GiveUp(relation, WhatWaited(query));
                    }
                }
            }
        }
    }

    /// <summary>A reader's work on some tables, watched: cancelled when another session waits for one of them.</summary>
    internal sealed class Watched : IDisposable
    {
        private readonly CopyYield _owner;
        private readonly int _pid;
        private readonly IReadOnlyList<CopyTable> _tables;
        private readonly CancellationTokenSource _cancel;

        public Watched(CopyYield owner, int pid, IReadOnlyList<CopyTable> tables, CancellationToken cancellationToken)
        {
            (_owner, _pid, _tables) = (owner, pid, tables);
            _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }

        /// <summary>The reader's work's token: cancelled when a table is given up, or when the copy is.</summary>
        public CancellationToken Token => _cancel.Token;

        /// <summary>True once the watch gave a table of this work up.</summary>
        public bool Cancelled { get; private set; }

        /// <summary>
        /// Gives up the waited-for table (all of this work's, should the relation be none of them: a partition's parent,
        /// an index) and cancels the reader's work, whose locks then go with its session.
        /// </summary>
        public void GiveUp(uint relation, string what)
        {
            foreach (var table in _tables.Any(t => t.Oid == relation) ? _tables.Where(t => t.Oid == relation) : _tables)
            {
                _owner.Yield(table, what);
            }

            Cancelled = true;
            try
            {
                _cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The work ended meanwhile: its locks are gone already.
            }
        }

        public void Dispose()
        {
            _owner._watched.TryRemove(new KeyValuePair<int, Watched>(_pid, this));
            _cancel.Dispose();
        }
    }
}

/// <summary>A table's copy failed on a server's error: <see cref="CopyYield"/> tells from it whether the table changed under the copy.</summary>
internal sealed class TableCopyException(CopyTable table, string message, Exception inner) : Errors.PgRelocateException(message, Errors.ExitCode.Failed, inner)
{
    public CopyTable Table => table;
}

using System.Collections.Concurrent;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Verify;

/// <summary>
/// Connections to one side, opened on demand and reused by the parallel workers. Every session gets the
/// same text-rendering settings on both sides, so that servers with different defaults render the same
/// data as the same text (and so the same digests), and is read-only: verifying never writes.
/// </summary>
internal sealed class Sessions : IAsyncDisposable
{
    /// <summary>
    /// What row text depends on: dates and times (TimeZone, DateStyle, IntervalStyle), floats
    /// (extra_float_digits 1: the shortest text that reads back exactly), bytea, money (lc_monetary).
    /// </summary>
    internal const string RenderingSettings =
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; " +
        "SET extra_float_digits = 1; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; " +
        "SET lc_monetary = 'C'; SET statement_timeout = 0; SET default_transaction_read_only = on; ";

    /// <summary>Every value is read as text, a count or a built-in array (queries' rows as row literals): the driver need not read the database's types first.</summary>
    private static readonly SessionOptions ReadOnly = SessionOptions.BuiltInTypes with { ApplicationName = ApplicationName };

    /// <summary>The program its sessions name.</summary>
    internal const string ApplicationName = "pgrelocate verify";

    private readonly ConcurrentBag<NpgsqlConnection> _idle = [];
    private readonly ConcurrentBag<NpgsqlConnection> _all = [];

    private readonly string? _snapshot;

    /// <param name="snapshot">A snapshot exported on this side: every session reads it, in one transaction each.</param>
    public Sessions(PgConnectionInfo info, string side, string? snapshot = null)
    {
        _snapshot = snapshot;
        Info = info;
        Side = side;
    }

    public PgConnectionInfo Info { get; }

    /// <summary>"source" or "target", for messages.</summary>
    public string Side { get; }

    /// <summary>
    /// A session with the rendering settings and <c>search_path</c> set to <c>pg_catalog</c>, so that every
    /// name in generated SQL and in catalog output is schema-qualified the same way on both sides. The lease is
    /// a read-only transaction of its own (in the snapshot, when there is one), ended when it is handed back: a session
    /// holds a table's share lock only while it reads that table, never across the comparison. Held to the end,
    /// those locks deadlock with an application that truncates (or alters) several tables in one transaction
    /// while a live source is compared: it waits for a table read earlier while holding one still to be read.
    /// </summary>
    /// <param name="lockTimeoutMs">How long the lease's statements wait for a lock (<c>SET LOCAL lock_timeout</c>, sent with its BEGIN); null: the server's.</param>
    public async Task<Lease> RentAsync(CancellationToken cancellationToken, int? lockTimeoutMs = null)
    {
        if (!_idle.TryTake(out var conn))
        {
            // The search_path with the settings, in the same round trip.
            conn = await Db.OpenAsync(Info, Side, ReadOnly, RenderingSettings + "SET search_path = pg_catalog", cancellationToken);
            _all.Add(conn);
        }

        await Db.ExecuteAsync(
            conn,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" + (_snapshot is null ? "" : $"; SET TRANSACTION SNAPSHOT {Db.Literal(_snapshot)}")
                + (lockTimeoutMs is { } ms ? $"; SET LOCAL lock_timeout = {ms}" : ""),
            cancellationToken);
        return new Lease(this, conn);
    }

    /// <summary>A fresh session with the rendering settings and the user's own search_path (for user queries).</summary>
    public static async Task<NpgsqlConnection> OpenAsync(PgConnectionInfo info, string side, CancellationToken cancellationToken)
    {
        return await Db.OpenAsync(info, side, ReadOnly, RenderingSettings, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var conn in _all)
        {
            await conn.DisposeAsync();
        }
    }

    /// <summary>A rented session; disposing it ends its transaction and hands it back (or drops it when it broke).</summary>
    internal readonly struct Lease(Sessions owner, NpgsqlConnection connection) : IAsyncDisposable
    {
        public NpgsqlConnection Connection { get; } = connection;

        public async ValueTask DisposeAsync()
        {
            if (Connection.FullState != System.Data.ConnectionState.Open)
            {
                return;
            }

            try
            {
                // A read-only transaction: ending it releases its locks, and a failed one ends the same way.
                await Db.ExecuteAsync(Connection, "ROLLBACK", CancellationToken.None);
            }
            catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
            {
                return;
            }

            owner._idle.Add(Connection);
        }
    }
}

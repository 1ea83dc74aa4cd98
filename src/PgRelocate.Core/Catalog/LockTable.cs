using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// The server's shared lock table (LockTable.sql): about <see cref="Capacity"/> locks, max_locks_per_transaction
/// for each connection and prepared transaction, shared by all sessions. A transaction that takes more (a DROP
/// ... CASCADE of thousands of tables, a pg_dump locking every table) fails with "out of shared memory".
/// </summary>
internal sealed record LockTable(int LocksPerTransaction, int MaxConnections, int PreparedTransactions)
{
    /// <summary>LockTable.sql: its row makes a <see cref="LockTable"/> (<see cref="Read"/>).</summary>
    public static readonly string Sql = CatalogSql.Load("LockTable.sql");

    public static Task<LockTable> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.SingleAsync(conn, Sql, Read, cancellationToken);

    /// <summary>The lock table from a row of <see cref="Sql"/> (read beside another query, in the same round trip).</summary>
    public static LockTable Read(NpgsqlDataReader r) => new(r.GetInt32(0), r.GetInt32(1), r.GetInt32(2));

    /// <summary>The locks the table holds, all sessions together.</summary>
    public long Capacity => (long)LocksPerTransaction * (MaxConnections + PreparedTransactions);

    /// <summary>
    /// The locks one transaction of ours takes at most: a quarter of the table, so that the applications and
    /// autovacuum keep the rest, and never less than one session's share.
    /// </summary>
    public long Budget => Math.Max(Capacity / 4, LocksPerTransaction);

    /// <summary>"about 6,400 locks: max_locks_per_transaction 64 for each of 100 connections and 0 prepared transactions".</summary>
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"about {Capacity:N0} locks: max_locks_per_transaction {LocksPerTransaction} for each of {MaxConnections} connections and {PreparedTransactions} prepared transactions");
}

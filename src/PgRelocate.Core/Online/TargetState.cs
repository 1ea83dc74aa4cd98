using Npgsql;
using NpgsqlTypes;
using PgRelocate.Connections;

namespace PgRelocate.Online;

/// <summary>
/// The tool's schema on the target (<see cref="OnlineNames.TargetSchema"/>): the applied position, written in
/// the same transaction as the changes it covers so that a crash never loses or repeats one, and the user
/// triggers disabled while following (the changes already fired them on the source). An ordinary database
/// owner can do all of it: no replication origins, no session_replication_role.
/// </summary>
public static class TargetState
{
    private const string Schema = OnlineNames.TargetSchema;

    /// <summary>Creates the schema with the position at <paramref name="start"/> and disables the enabled user triggers, in one transaction.</summary>
    public static async Task CreateAsync(NpgsqlConnection conn, string slot, NpgsqlLogSequenceNumber start, CancellationToken cancellationToken)
    {
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        await Db.ExecuteAsync(conn, $"""
            DROP SCHEMA IF EXISTS {Schema} CASCADE;
            CREATE SCHEMA {Schema};
            CREATE TABLE {Schema}.position (slot text PRIMARY KEY, lsn pg_lsn NOT NULL, changes bigint NOT NULL DEFAULT 0,
                                            transactions bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE {Schema}.changed_tables (table_name text PRIMARY KEY);
            CREATE TABLE {Schema}.table_positions (slot text NOT NULL, table_name text NOT NULL, lsn pg_lsn NOT NULL,
                                                   PRIMARY KEY (slot, table_name));
            CREATE TABLE {Schema}.disabled_triggers (table_name text NOT NULL, trigger_name text NOT NULL, enabled "char" NOT NULL,
                                                     PRIMARY KEY (table_name, trigger_name));
            -- Every table's triggers, an extension's too, not only the user tables': the cutover writes the
            -- extensions' configuration tables (ConfigurationRows) while they are disabled.
            INSERT INTO {Schema}.disabled_triggers
            SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), t.tgname, t.tgenabled
            FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND n.nspname <> '{Schema}';
            """, cancellationToken);
        await using (var cmd = new NpgsqlCommand($"INSERT INTO {Schema}.position (slot, lsn) VALUES (@slot, @lsn::pg_lsn)", conn))
        {
            cmd.Parameters.AddWithValue("slot", slot);
            cmd.Parameters.AddWithValue("lsn", start.ToString());
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var (table, trigger, _) in await TriggersAsync(conn, cancellationToken))
        {
            await Db.ExecuteAsync(conn, $"ALTER TABLE {table} DISABLE TRIGGER {Db.Ident(trigger)}", cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Refuses to follow into a target whose login role could not write every user table (<c>UnwritableTables.sql</c>
    /// says why for each): checked before the follow applies anything, after --roles gave the tables their owners
    /// back, so a change is never half-applied for want of a right.
    /// </summary>
    /// <exception cref="Errors.PgRelocateException">Some table is unwritable (exit 3); the message names it and the fix.</exception>
    public static async Task RefuseUnwritableAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var tables = await Db.ListAsync(conn, OnlineSql.UnwritableTables, r => $"{r.GetString(0)} ({r.GetString(1)})", cancellationToken);
        if (tables.Count > 0)
        {
            throw new Errors.PgRelocateException(
                $"The target's login role could not apply the source's changes to {tables.Count} tables: {string.Join("; ", tables.Take(5))}{(tables.Count > 5 ? "; ..." : "")}. Grant it the owners' roles (GRANT OWNER_ROLE TO {Db.Ident(conn.UserName ?? "LOGIN_ROLE")}) or the missing privileges, or turn FORCE ROW LEVEL SECURITY off for the migration, then resume it.",
                Errors.ExitCode.Differences);
        }
    }

    /// <summary>The stored position: every source transaction committed before it is applied. Null when the schema is missing.</summary>
    public static async Task<(NpgsqlLogSequenceNumber Lsn, long Changes, long Transactions)?> ReadAsync(NpgsqlConnection conn, string slot, CancellationToken cancellationToken)
    {
        if (await Db.ScalarAsync<string>(conn, $"SELECT to_regclass('{Schema}.position')::text", cancellationToken) is null)
        {
            return null;
        }

        await using var cmd = new NpgsqlCommand($"SELECT lsn::text, changes, transactions FROM {Schema}.position WHERE slot = @slot", conn);
        cmd.Parameters.AddWithValue("slot", slot);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        return await r.ReadAsync(cancellationToken) ? (NpgsqlLogSequenceNumber.Parse(r.GetString(0)), r.GetInt64(1), r.GetInt64(2)) : null;
    }

    /// <summary>The statement that advances the position, to run last in each applying transaction.</summary>
    public static NpgsqlBatchCommand Advance(string slot, NpgsqlLogSequenceNumber lsn, long changes, long transactions)
    {
        var cmd = new NpgsqlBatchCommand($"UPDATE {Schema}.position SET lsn = $1::pg_lsn, changes = changes + $2, transactions = transactions + $3, updated_at = now() WHERE slot = $4");
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = lsn.ToString() });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = changes });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = transactions });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = slot });
        return cmd;
    }

    /// <summary>
    /// The statement that advances the positions of the tables one lane changed, to run last in its applying
    /// transaction: every change to them from a source transaction committed before <paramref name="lsn"/> is
    /// applied (lanes commit on their own, so each table keeps its own position).
    /// </summary>
    public static NpgsqlBatchCommand AdvanceTables(string slot, string[] tables, NpgsqlLogSequenceNumber lsn)
    {
        var cmd = new NpgsqlBatchCommand($"INSERT INTO {Schema}.table_positions (slot, table_name, lsn) SELECT $1, t, $3::pg_lsn FROM unnest($2::text[]) t ON CONFLICT (slot, table_name) DO UPDATE SET lsn = excluded.lsn");
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = slot });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tables });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = lsn.ToString() });
        return cmd;
    }

    /// <summary>Each table's stored position (quoted, qualified name to LSN).</summary>
    public static async Task<Dictionary<string, ulong>> TablePositionsAsync(NpgsqlConnection conn, string slot, CancellationToken cancellationToken)
    {
        var positions = new Dictionary<string, ulong>(StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand($"SELECT table_name, lsn::text FROM {Schema}.table_positions WHERE slot = @slot", conn);
        cmd.Parameters.AddWithValue("slot", slot);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            positions[r.GetString(0)] = (ulong)NpgsqlLogSequenceNumber.Parse(r.GetString(1));
        }

        return positions;
    }

    /// <summary>The statement that records a table the follow changes, in the transaction of its first change (a resumed follow keeps what a killed one changed).</summary>
    public static NpgsqlBatchCommand Changed(string table)
    {
        var cmd = new NpgsqlBatchCommand($"INSERT INTO {Schema}.changed_tables VALUES ($1) ON CONFLICT DO NOTHING");
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        return cmd;
    }

    /// <summary>Every table the follow changed, over all its runs; empty when the schema is gone.</summary>
    public static async Task<IReadOnlyList<string>> ChangedTablesAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<string>(conn, $"SELECT to_regclass('{Schema}.changed_tables')::text", cancellationToken) is null
            ? []
            : await Db.ListAsync(conn, $"SELECT table_name FROM {Schema}.changed_tables ORDER BY 1", r => r.GetString(0), cancellationToken);

    /// <summary>Re-enables the triggers follow disabled (in the mode they had) and drops the schema. Safe to repeat.</summary>
    public static async Task RemoveAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        if (await Db.ScalarAsync<string>(conn, $"SELECT to_regnamespace('{Schema}')::text", cancellationToken) is null)
        {
            return;
        }

        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        foreach (var (table, trigger, enabled) in await TriggersAsync(conn, cancellationToken))
        {
            var mode = enabled switch { 'A' => "ALWAYS ", 'R' => "REPLICA ", _ => "" };
            await using var exists = new NpgsqlCommand("SELECT pg_catalog.to_regclass(@t) IS NOT NULL", conn);
            exists.Parameters.AddWithValue("t", table);
            if (await exists.ExecuteScalarAsync(cancellationToken) is true)
            {
                await Db.ExecuteAsync(conn, $"ALTER TABLE {table} ENABLE {mode}TRIGGER {Db.Ident(trigger)}", cancellationToken);
            }
        }

        await Db.ExecuteAsync(conn, $"DROP SCHEMA {Schema} CASCADE", cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    private static async Task<List<(string Table, string Trigger, char Enabled)>> TriggersAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var list = new List<(string, string, char)>();
        await using var cmd = new NpgsqlCommand($"SELECT table_name, trigger_name, enabled FROM {Schema}.disabled_triggers ORDER BY 1, 2", conn);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add((r.GetString(0), r.GetString(1), r.GetChar(2)));
        }

        return list;
    }
}

using Npgsql;
using NpgsqlTypes;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online;

/// <summary>
/// The tool's schema on the target (<see cref="OnlineNames.TargetSchema"/>): the applied position, written in
/// the same transaction as the changes it covers so that a crash never loses or repeats one, and the user
/// triggers disabled while following (the changes already fired them on the source). An ordinary database
/// owner can do all of it: no replication origins, no session_replication_role.
/// </summary>
internal static class TargetState
{
    private const string Schema = OnlineNames.TargetSchema;

    /// <summary>
    /// Creates the schema with the position at <paramref name="start"/> and the record of the enabled triggers,
    /// committed first, then disables those triggers in batches that fit the lock table (<see cref="DisableAsync"/>).
    /// A record left by an interrupted attempt is kept and added to, never lost: what it disabled stays listed
    /// for <see cref="RemoveAsync"/>, and a follow that finds the record disables again whatever it still lists enabled.
    /// </summary>
    public static async Task CreateAsync(NpgsqlConnection conn, string slot, NpgsqlLogSequenceNumber start, CancellationToken cancellationToken)
    {
        // The tables and the position in one round trip (at the switch with a way back, the application behind PgBouncer waits for each).
        await using (var tx = await conn.BeginTransactionAsync(cancellationToken))
        {
            await Db.ExecuteAsync(
                conn,
                CatalogSql.Load("Online/CreateTargetState.sql", new Dictionary<string, string> { ["schema"] = Schema }).TrimEnd().TrimEnd(';')
                    + $";\nINSERT INTO {Schema}.position (slot, lsn) VALUES ({Db.Literal(slot)}, {Db.Literal(start.ToString())}::pg_lsn)",
                cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }

        await SetModesAsync(conn, enable: false, cancellationToken, there: true);
    }

    /// <summary>
    /// Drops a publication the copy carried to the target along with the schema. Its tables are taken out of it
    /// first, in transactions that fit the lock table: dropping it whole locks every table it lists at once.
    /// </summary>
    public static async Task DropPublicationAsync(NpgsqlConnection conn, string publication, CancellationToken cancellationToken)
    {
        await using (var cmd = new NpgsqlCommand("SELECT pr.prrelid::regclass::text FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid WHERE p.pubname = @name ORDER BY 1", conn))
        {
            cmd.Parameters.AddWithValue("name", publication);
            var tables = new List<string>();
            await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
            {
                while (await r.ReadAsync(cancellationToken))
                {
                    tables.Add(r.GetString(0));
                }
            }

            if (tables.Count > 0)
            {
                var budget = (int)Math.Max(1, (await LockTable.ReadAsync(conn, cancellationToken)).Budget - 16);
                foreach (var batch in tables.Chunk(budget))
                {
                    await Db.ExecuteAsync(conn, $"ALTER PUBLICATION {Db.Ident(publication)} DROP TABLE {string.Join(", ", batch)}", cancellationToken);
                }
            }
        }

        await Db.ExecuteAsync(conn, $"DROP PUBLICATION IF EXISTS {Db.Ident(publication)}", cancellationToken);
    }

    /// <summary>
    /// Disables every trigger the record lists that is not disabled yet, in transactions that each fit the lock
    /// table (<see cref="LockTable.Budget"/>): ALTER TABLE holds a lock on its table until commit, and thousands
    /// of tables in one transaction fill a managed plan's lock table. Idempotent, and one query when all are
    /// disabled already: every follow runs it first, so a follow resumed after its migration was killed halfway
    /// through <see cref="CreateAsync"/> or <see cref="RemoveAsync"/> applies with them all disabled. Nothing when the schema is gone.
    /// </summary>
    public static Task DisableAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        SetModesAsync(conn, enable: false, cancellationToken);

    /// <summary>
    /// Records each recorded trigger's mode as it is now, once the switch has enabled them again and its pass has made
    /// them the source's: what restores them after (<see cref="RemoveAsync"/>, a resumed cutover) then keeps the source's
    /// current mode (a trigger the application disabled on the source while following), not the one recorded at the
    /// copy, and a follow resumed after a failed switch still disables them all first. Nothing when the schema is gone.
    /// </summary>
    /// <param name="there">The caller knows the schema is there (at the switch): a round trip less.</param>
    public static async Task RecordModesAsync(NpgsqlConnection conn, CancellationToken cancellationToken, bool there = false)
    {
        if (there || await HasTriggerRecordAsync(conn, cancellationToken))
        {
            await Db.ExecuteAsync(
                conn,
                $"UPDATE {Schema}.disabled_triggers d SET enabled = t.tgenabled FROM pg_catalog.pg_trigger t WHERE t.tgrelid = pg_catalog.to_regclass(d.table_name) AND t.tgname = d.trigger_name AND d.enabled <> t.tgenabled",
                cancellationToken);
        }
    }

    /// <summary>
    /// Whether re-enabling the recorded triggers at the switch will leave every user trigger plainly enabled
    /// (<c>PlainTriggers.sql</c>): then each trigger the follow disabled is, after the switch, as the source's enabled one.
    /// </summary>
    public static async Task<bool> TriggersComeBackPlainAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await HasTriggerRecordAsync(conn, cancellationToken)
        && await Db.ScalarAsync<bool>(conn, CatalogSql.Load("Online/PlainTriggers.sql", new Dictionary<string, string> { ["schema"] = Schema }), cancellationToken);

    /// <summary>
    /// Re-enables the triggers the record lists, each in the mode it had (see <see cref="RemoveAsync"/>), and keeps the
    /// record. Nothing when the schema is gone.
    /// </summary>
    /// <param name="there">The caller knows the schema is there (at the switch): a round trip less.</param>
    public static Task EnableAsync(NpgsqlConnection conn, CancellationToken cancellationToken, bool there = false) =>
        SetModesAsync(conn, enable: true, cancellationToken, there);

    /// <summary>
    /// At the switch, once <see cref="EnableAsync"/> has re-enabled the triggers in this same switch (the follow is
    /// stopped: nothing disables them again): drops the schema and gives <paramref name="identityTables"/> their
    /// default replica identity back, up to <see cref="IdentityTogether"/> statements to a round trip (each round trip is
    /// downtime: with a look for the schema first and an ALTER a round trip, this phase made 8 of the switch's 45 at
    /// 20 ms from the target). Safe to repeat.
    /// </summary>
    public static async Task RemoveAtSwitchAsync(NpgsqlConnection conn, IReadOnlyList<string> identityTables, CancellationToken cancellationToken)
    {
        // At most IdentityTogether tables locked in one round trip's transaction: far below any server's lock table.
        // IF EXISTS: a table the application dropped while following is gone from the target too (the follow carries the DROP).
        string[] statements = [$"DROP SCHEMA IF EXISTS {Schema} CASCADE", .. identityTables.Select(t => $"ALTER TABLE IF EXISTS {t} REPLICA IDENTITY DEFAULT")];
        foreach (var trip in statements.Chunk(IdentityTogether))
        {
            await Db.ExecuteAsync(conn, string.Join(";\n", trip), cancellationToken);
        }
    }

    /// <summary>The tables whose replica identity goes back in one round trip (one transaction) at the switch.</summary>
    private const int IdentityTogether = 50;

    /// <summary>
    /// Re-enables the triggers the record lists, each in the mode it had (ENABLE ALWAYS and REPLICA kept), in
    /// transactions that fit the lock table, then drops the schema. Only a trigger whose mode differs is altered,
    /// so it is safe to repeat after a stop at any point: a later cancel, resume or cutover finishes it.
    /// </summary>
    public static async Task RemoveAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        if (await Db.ScalarAsync<string>(conn, $"SELECT to_regnamespace('{Schema}')::text", cancellationToken) is null)
        {
            return;
        }

        await SetModesAsync(conn, enable: true, cancellationToken);
        await Db.ExecuteAsync(conn, $"DROP SCHEMA {Schema} CASCADE", cancellationToken);
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
                $"The target's login role could not apply the source's changes to {Errors.Sentences.Counted(tables.Count, "table")}: {Errors.Sentences.FirstFew(tables, 5, "; ")}. Grant it the owners' roles (GRANT OWNER_ROLE TO {Db.Ident(conn.UserName ?? "LOGIN_ROLE")}) or the missing privileges, or turn FORCE ROW LEVEL SECURITY off for the migration, then resume it.",
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
    /// <param name="there">
    /// The caller knows the schema is there (the switch's follow has just applied into it): read without asking first,
    /// a round trip less.
    /// </param>
    public static async Task<IReadOnlyList<string>> ChangedTablesAsync(NpgsqlConnection conn, CancellationToken cancellationToken, bool there = false) =>
        !there && await Db.ScalarAsync<string>(conn, $"SELECT to_regclass('{Schema}.changed_tables')::text", cancellationToken) is null
            ? []
            : await Db.ListAsync(conn, $"SELECT table_name FROM {Schema}.changed_tables ORDER BY 1", r => r.GetString(0), cancellationToken);

    /// <summary>
    /// Brings the recorded triggers to their wanted mode (disabled, or the recorded one) in batches: the triggers
    /// that still exist and differ, read once; one transaction per batch, one lock per statement. Each statement
    /// alters ONLY its table: from PostgreSQL 13 a partition's copy of its parent's trigger is a trigger of its
    /// own, listed and altered on its own (in its own mode). On PostgreSQL 12 those copies are system triggers,
    /// which only a superuser may alter and which a statement on the parent refuses to reach for anyone else:
    /// they stay enabled.
    /// </summary>
    private static async Task SetModesAsync(NpgsqlConnection conn, bool enable, CancellationToken cancellationToken, bool there = false)
    {
        if (!there && !await HasTriggerRecordAsync(conn, cancellationToken))
        {
            return;
        }

        // The triggers and the lock table in one round trip (at the switch, every round trip is downtime).
        var pending = new List<(string Table, string Trigger, char Mode)>();
        LockTable? locks = null;
        var sql = CatalogSql.Load("Online/PendingTriggers.sql", new Dictionary<string, string> { ["schema"] = Schema, ["wanted"] = enable ? "d.enabled" : "'D'" });
        await using (var cmd = new NpgsqlCommand(sql.TrimEnd().TrimEnd(';') + ";\n" + LockTable.Sql, conn))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                pending.Add((r.GetString(0), r.GetString(1), r.GetChar(2)));
            }

            await r.NextResultAsync(cancellationToken);
            if (await r.ReadAsync(cancellationToken))
            {
                locks = LockTable.Read(r);
            }
        }

        // A few locks of the budget left for the catalogs each statement reads.
        var budget = Math.Max(1, (locks?.Budget ?? 1) - 16);
        foreach (var batch in pending.Chunk((int)budget))
        {
            // BEGIN, the batch's statements and COMMIT in one round trip; a failed one leaves the session as it found it.
            try
            {
                await Db.ExecuteAsync(conn, $"BEGIN;\n{string.Join(";\n", batch.Select(t => $"ALTER TABLE ONLY {t.Table} {Mode(enable, t.Mode)}TRIGGER {Db.Ident(t.Trigger)}"))};\nCOMMIT", cancellationToken);
            }
            catch (Exception e) when (e is PostgresException or OperationCanceledException && conn.State == System.Data.ConnectionState.Open)
            {
                await Db.ExecuteAsync(conn, "ROLLBACK", CancellationToken.None);
                throw;
            }
        }
    }

    /// <summary>Whether the follow's record of the triggers it disabled is there (the tool's schema not removed yet).</summary>
    private static async Task<bool> HasTriggerRecordAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<string>(conn, $"SELECT to_regclass('{Schema}.disabled_triggers')::text", cancellationToken) is not null;

    private static string Mode(bool enable, char mode) =>
        !enable ? "DISABLE " : "ENABLE " + mode switch { 'A' => "ALWAYS ", 'R' => "REPLICA ", _ => "" };
}

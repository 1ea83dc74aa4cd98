using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Online.Apply;

/// <summary>A column as <c>CarriedAttributes.sql</c> reads it, on either side.</summary>
/// <param name="Sequence">An identity's sequence options, as <c>ADD GENERATED … AS IDENTITY (…)</c> takes them.</param>
internal sealed record ColumnAttributes(string Table, string Column, string Type, bool NotNull, string Identity, string Generated, string? Expression, string? Sequence = null);

/// <summary>
/// What pgoutput's description of a table does not show: <c>SET/DROP DEFAULT</c>, <c>SET/DROP NOT NULL</c>, a generated
/// column added or dropped, a generated column made plain or its expression changed (<c>SET EXPRESSION</c>), an identity
/// added to a column, dropped or made ALWAYS / BY DEFAULT. The source's catalog and the target's are compared, and
/// the target altered to match: in the apply's transaction when the stream describes a table again (the source
/// altered it), for every table before the cutover and the verification while following, and, exactly, in the
/// cutover once the source is read-only and every change is applied. A default names its sequence by name, so on
/// the target it takes the target's sequence. Before the cutover a <c>NOT NULL</c> the target's rows do not meet
/// yet (the source filled them later in the stream) waits; at the cutover, a change the target refuses stops it,
/// naming the SQL to run. Reads the source through the carry's session (<see cref="CarrySession"/>).
/// </summary>
internal sealed class ColumnAttributeCarry(CarrySession sourceSession, IReporter reporter)
{
    /// <summary>As <see cref="AttributesAsync(NpgsqlConnection, IReadOnlyList{string}?, bool, CancellationToken)"/> for every table, on a target session and in a transaction of its own.</summary>
    public async Task AttributesAsync(PgConnectionInfo target, bool exact, CancellationToken cancellationToken)
    {
        await using var session = await Db.OpenAsync(target, "target", cancellationToken);
        await Db.ExecuteAsync(session, "BEGIN", cancellationToken);
        await Db.ExecuteAsync(session, "SET LOCAL lock_timeout = '5s'", cancellationToken);
        await AttributesAsync(session, null, exact, cancellationToken);
        await Db.ExecuteAsync(session, "COMMIT", cancellationToken);
    }

    /// <summary>Gives the target's tables (quoted names; all of them when null) the source's defaults, NOT NULLs and generated columns.</summary>
    /// <param name="target">A session on the target, in a transaction (the apply's).</param>
    /// <param name="exact">The source is read-only and every change applied: a change the target refuses stops, naming the SQL to run.</param>
    public async Task AttributesAsync(NpgsqlConnection target, IReadOnlyList<string>? tables, bool exact, CancellationToken cancellationToken)
    {
        // Both sides read at once: at the cutover this is part of the write downtime.
        string? path = null;
        var reading = await Task.WhenAll(ReadSourceAsync(), ReadTargetAsync());
        var (theirs, ours) = (reading[0], reading[1]);
        var carried = new List<string>();
        foreach (var (table, statement) in AttributeStatements(theirs, ours))
        {
            await Db.ExecuteAsync(target, "SAVEPOINT pgrelocate_attributes", cancellationToken);
            try
            {
                await Db.ExecuteAsync(target, statement, cancellationToken);
                await Db.ExecuteAsync(target, "RELEASE SAVEPOINT pgrelocate_attributes", cancellationToken);
                carried.Add(statement);
            }
            catch (PostgresException e)
            {
                await Db.ExecuteAsync(target, "ROLLBACK TO SAVEPOINT pgrelocate_attributes", CancellationToken.None);
                if (exact)
                {
                    throw SchemaCarry.CannotCarry(table, statement.Contains(" SET EXPRESSION AS ", StringComparison.Ordinal) && e.SqlState == PostgresErrorCodes.SyntaxError
                        ? $"the target's PostgreSQL cannot change a generated column's expression ({statement} needs PostgreSQL 17); on the target drop that column and add it again as the source has it"
                        : $"the target refuses {statement} ({e.MessageText}); run it on the target once its rows allow it");
                }

                reporter.Debug($"Not carried yet ({e.MessageText}): {statement}.");
            }
        }

        await using (var restore = new NpgsqlCommand("SELECT pg_catalog.set_config('search_path', @path, true)", target))
        {
            restore.Parameters.AddWithValue("path", path ?? "");
            await restore.ExecuteNonQueryAsync(cancellationToken);
        }

        if (carried.Count > 0)
        {
            reporter.Info($"Carrying a column change to the target: {string.Join("; ", carried)}.");
        }

        async Task<List<ColumnAttributes>> ReadSourceAsync()
        {
            using (await sourceSession.TurnAsync(cancellationToken))
            {
                return await ReadAttributesAsync(await sourceSession.OpenAsync(cancellationToken), tables, cancellationToken);
            }
        }

        async Task<List<ColumnAttributes>> ReadTargetAsync()
        {
            path = await Db.ScalarAsync<string>(target, "SELECT pg_catalog.current_setting('search_path')", cancellationToken);
            await Db.ExecuteAsync(target, "SELECT pg_catalog.set_config('search_path', '', true)", cancellationToken);
            return await ReadAttributesAsync(target, tables, cancellationToken);
        }
    }

    /// <summary>
    /// True when every column of every table both sides have carries the source's defaults, NOT NULLs, identity and
    /// generation on the target: nothing for <see cref="AttributesAsync(NpgsqlConnection, IReadOnlyList{string}?, bool, CancellationToken)"/>
    /// to do. Both sessions must read with an empty search_path (every name qualified alike).
    /// </summary>
    public static async Task<bool> SameAsync(NpgsqlConnection source, NpgsqlConnection target, CancellationToken cancellationToken)
    {
        var reading = await Task.WhenAll(ReadAttributesAsync(source, null, cancellationToken), ReadAttributesAsync(target, null, cancellationToken));
        return !AttributeStatements(reading[0], reading[1]).Any();
    }

    /// <summary>
    /// The statements that give the target's columns the source's defaults, NOT NULLs and generation, each with its
    /// table; the columns the stream carries (a plain column added, dropped or renamed) are left to it: a plain
    /// column only one side has could be a rename no row has shown yet, and dropping it would lose its values.
    /// </summary>
    internal static IEnumerable<(string Table, string Statement)> AttributeStatements(IReadOnlyList<ColumnAttributes> source, IReadOnlyList<ColumnAttributes> target)
    {
        var targets = target.ToDictionary(t => (t.Table, t.Column));
        var targetTables = target.Select(t => t.Table).ToHashSet(StringComparer.Ordinal);
        var sources = source.Select(s => (s.Table, s.Column)).ToHashSet();
        foreach (var s in source.Where(s => targetTables.Contains(s.Table)))
        {
            string Alter(string what) => $"ALTER TABLE {s.Table} {what}";
            var c = Db.Ident(s.Column);
            if (!targets.TryGetValue((s.Table, s.Column), out var t))
            {
                if (s.Generated is "s" or "v")
                {
                    // The target computes it from its own rows, as the source did.
                    yield return (s.Table, Alter($"ADD COLUMN IF NOT EXISTS {c} {s.Type} GENERATED ALWAYS AS ({s.Expression}) {(s.Generated == "s" ? "STORED" : "VIRTUAL")}"));
                }

                continue;
            }

            var notNull = s.NotNull != t.NotNull;
            if (s.Generated == "" && t.Generated == "s")
            {
                yield return (s.Table, Alter($"ALTER COLUMN {c} DROP EXPRESSION IF EXISTS"));
            }
            else if (s.Generated != "" && s.Generated == t.Generated && s.Expression != t.Expression)
            {
                // PostgreSQL 17 on: the target computes its rows again, as the source did.
                yield return (s.Table, Alter($"ALTER COLUMN {c} SET EXPRESSION AS ({s.Expression})"));
            }
            else if (s.Generated == "" && t.Generated == "" && s.Identity != t.Identity)
            {
                // An identity added, dropped or made ALWAYS / BY DEFAULT: the cutover sets its sequence's value as the source's.
                string Kind(string identity) => identity == "a" ? "ALWAYS" : "BY DEFAULT";
                if (t.Identity == "")
                {
                    if (notNull && s.NotNull)
                    {
                        yield return (s.Table, Alter($"ALTER COLUMN {c} SET NOT NULL"));
                        notNull = false;
                    }

                    if (t.Expression is not null)
                    {
                        yield return (s.Table, Alter($"ALTER COLUMN {c} DROP DEFAULT"));
                    }

                    yield return (s.Table, Alter($"ALTER COLUMN {c} ADD GENERATED {Kind(s.Identity)} AS IDENTITY{(s.Sequence is { } options ? $" ({options})" : "")}"));
                }
                else if (s.Identity == "")
                {
                    yield return (s.Table, Alter($"ALTER COLUMN {c} DROP IDENTITY IF EXISTS"));
                    if (s.Expression is { } d)
                    {
                        yield return (s.Table, Alter($"ALTER COLUMN {c} SET DEFAULT {d}"));
                    }
                }
                else
                {
                    yield return (s.Table, Alter($"ALTER COLUMN {c} SET GENERATED {Kind(s.Identity)}"));
                }
            }
            else if (s.Generated == "" && t.Generated == "" && s.Identity == "" && t.Identity == "" && s.Expression != t.Expression)
            {
                yield return (s.Table, Alter(s.Expression is { } d ? $"ALTER COLUMN {c} SET DEFAULT {d}" : $"ALTER COLUMN {c} DROP DEFAULT"));
            }

            if (notNull)
            {
                yield return (s.Table, Alter($"ALTER COLUMN {c} {(s.NotNull ? "SET" : "DROP")} NOT NULL"));
            }
        }

        var sourceTables = source.Select(s => s.Table).ToHashSet(StringComparer.Ordinal);
        foreach (var t in target.Where(t => sourceTables.Contains(t.Table) && !sources.Contains((t.Table, t.Column)) && t.Generated != ""))
        {
            yield return (t.Table, $"ALTER TABLE {t.Table} DROP COLUMN IF EXISTS {Db.Ident(t.Column)}");
        }
    }

    private static async Task<List<ColumnAttributes>> ReadAttributesAsync(NpgsqlConnection session, IReadOnlyList<string>? tables, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(OnlineSql.CarriedAttributes, session);
        cmd.Parameters.Add(new NpgsqlParameter("tables", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)tables?.ToArray() ?? DBNull.Value });
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var columns = new List<(ColumnAttributes Column, int Depth, int Number)>();
        while (await r.ReadAsync(cancellationToken))
        {
            columns.Add((new ColumnAttributes(r.GetString(0), r.GetString(1), r.GetString(2), r.GetBoolean(3), r.GetString(4), r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7)), r.GetInt32(8), r.GetInt32(9)));
        }

        // Partitioned tables before their partitions, each table's columns in their order.
        return [.. columns.OrderBy(c => c.Depth).ThenBy(c => c.Column.Table, StringComparer.Ordinal).ThenBy(c => c.Number).Select(c => c.Column)];
    }
}

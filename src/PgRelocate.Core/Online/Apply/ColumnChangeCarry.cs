using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Online.Apply;

/// <summary>What the target's table needs to take the source's new shape, and whether its rows must be copied again.</summary>
/// <param name="Table">The table altered (quoted name): the partitioned root of a partition.</param>
/// <param name="Statements">Run on the target in the apply's transaction, before the first row of the new shape.</param>
/// <param name="CopyAgain">The tables (quoted names) to copy again at a marker, when the existing rows' values cannot be made on the target (a volatile default, an identity, a serial, a type change that may have had a USING, a rename the catalog cannot tell from a drop): the table, or every partition of its partitioned root.</param>
internal sealed record ColumnCarry(string Table, IReadOnlyList<string> Statements, IReadOnlyList<string> CopyAgain, string Description);

/// <summary>
/// Column changes on the source while following (ADD, DROP, RENAME COLUMN, ALTER COLUMN … TYPE), carried when the
/// stream describes a table with a column list or types the target's table does not have: pgoutput sends the new
/// description before the first change of the new shape, so the apply changes the target's table in that change's
/// transaction, in the source's commit order. A rename is told from a drop and an add by the source's column numbers
/// (<see cref="ColumnRenames"/>). The added column is made as the source has it now (type, collation, default,
/// NOT NULL, identity, a serial's sequence); the rows that existed before it take the value the source gave them:
/// a fast default's stored value, NULL without a default, and otherwise (a volatile default, an identity, a serial)
/// the table is copied again at a marker of its own (<see cref="SchemaCarry.CarryAsync"/>). A type change is made with the plain
/// cast, and the table copied again unless it widens (<see cref="ColumnTypes"/>).
/// A partition's columns are changed through its partitioned root, as on the source (a partition cannot be altered
/// alone). What the stream's description does not show (a default, NOT NULL, a generated column) is compared by
/// <see cref="ColumnAttributeCarry"/>. Reads the source through the carry's session (<see cref="CarrySession"/>).
/// </summary>
internal sealed class ColumnChangeCarry(CarrySession sourceSession, IReporter reporter)
{
    /// <summary>The statements that give the target's table the source's columns, or null when the change cannot be told (the follow stops naming the columns).</summary>
    public async Task<ColumnCarry?> ColumnsAsync(SourceRelation relation, ColumnDifference difference, CancellationToken cancellationToken)
    {
        var qualified = Db.Qualified(relation.Schema, relation.Name);
        List<SourceColumn> columns;
        List<string> leaves;
        string altered;
        ColumnRenames renames = new([], false);
        Dictionary<string, string> sequences = new(StringComparer.Ordinal);
        using (await sourceSession.TurnAsync(cancellationToken))
        {
            var session = await sourceSession.OpenAsync(cancellationToken);
            // The columns as the table itself has them (a partition holds the stored value of a fast default, its
            // partitioned root none), changed through the root, and copied again leaf by leaf.
            const string Names = "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace";
            var root = await Db.ListAsync(session, $"{Names} WHERE c.oid = pg_catalog.pg_partition_root(pg_catalog.to_regclass({Db.Literal(qualified)}))", r => Db.Qualified(r.GetString(0), r.GetString(1)), cancellationToken);
            leaves = await Db.ListAsync(session, $"{Names} JOIN pg_catalog.pg_partition_tree(pg_catalog.to_regclass({Db.Literal(root.FirstOrDefault() ?? qualified)})) t ON t.relid = c.oid WHERE t.isleaf", r => Db.Qualified(r.GetString(0), r.GetString(1)), cancellationToken);
            altered = root.FirstOrDefault() ?? qualified;
            await using (var cmd = new NpgsqlCommand(OnlineSql.CarriedColumns, session))
            {
                cmd.Parameters.AddWithValue("name", qualified);
                await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
                columns = [];
                while (await r.ReadAsync(cancellationToken))
                {
                    columns.Add(new SourceColumn(
                        r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetBoolean(3), r.IsDBNull(4) ? null : r.GetString(4),
                        r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7)));
                }
            }

            if (difference.Missing.Count > 0 && difference.Extra.Count > 0)
            {
                // Renamed, or dropped and added: the source's column numbers tell.
                var numbered = await Db.ListAsync(session, $"SELECT a.attnum::int, CASE WHEN NOT a.attisdropped THEN a.attname::text END FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass({Db.Literal(qualified)}) AND a.attnum > 0 AND a.attgenerated = '' ORDER BY a.attnum", r => (r.GetInt32(0), r.IsDBNull(1) ? null : r.GetString(1)), cancellationToken);
                if (ColumnRenames.Of([.. difference.Target.Select(t => t.Name)], numbered, difference.Missing, difference.Extra) is not { } told)
                {
                    return null;
                }

                renames = told;
            }

            foreach (var column in columns.Where(c => c.Sequence is not null && difference.Missing.Contains(c.Name, StringComparer.Ordinal)))
            {
                await using var cmd = new NpgsqlCommand(OnlineSql.CarriedSequence, session);
                cmd.Parameters.AddWithValue("sequence", column.Sequence!);
                sequences[column.Name] = (string?)await cmd.ExecuteScalarAsync(cancellationToken) ?? throw SchemaCarry.CannotCarry(altered, $"the sequence {column.Sequence} of its new column {Db.Ident(column.Name)} is gone from the source");
            }
        }

        var statements = new List<string>();
        var described = new List<string>();
        var again = renames.Unsure;
        string Alter(string what) => $"ALTER TABLE {altered} {what}";
        var renamedTo = renames.Renamed.ToDictionary(r => r.To, r => r.From, StringComparer.Ordinal);
        foreach (var name in difference.Extra.Where(e => !renames.Renamed.Any(r => r.From == e)))
        {
            if (columns.Any(c => c.Name == name))
            {
                // Still on the source, only no longer sent (made a generated column?): not a change this carries.
                return null;
            }

            statements.Add(Alter($"DROP COLUMN IF EXISTS {Db.Ident(name)}"));
            described.Add($"column {Db.Ident(name)} dropped");
        }

        foreach (var (from, to) in renames.Renamed)
        {
            statements.Add(Alter($"RENAME COLUMN {Db.Ident(from)} TO {Db.Ident(to)}"));
            described.Add($"column {Db.Ident(from)} renamed {Db.Ident(to)}");
        }

        foreach (var column in columns.Where(c => difference.Missing.Contains(c.Name, StringComparer.Ordinal) && !renamedTo.ContainsKey(c.Name)))
        {
            statements.AddRange(Added(column, altered, sequences.GetValueOrDefault(column.Name), out var copy));
            again |= copy;
            described.Add($"column {Db.Ident(column.Name)} added");
        }

        foreach (var column in columns)
        {
            // Retyped in place (its name kept), or renamed and retyped: compared with the target's type before the change.
            var before = difference.Target.FirstOrDefault(t => t.Name == (renamedTo.GetValueOrDefault(column.Name) ?? column.Name));
            var i = relation.Columns.ToList().IndexOf(column.Name);
            if (before.Name is null || i < 0 || !(difference.Retyped.Contains(column.Name) || (renamedTo.ContainsKey(column.Name) && (before.TypeId != relation.TypeIds[i] || before.TypeModifier != relation.TypeModifiers[i]))))
            {
                continue;
            }

            var c = Db.Ident(column.Name);
            statements.Add(Alter($"ALTER COLUMN {c} TYPE {column.Type}{Collate(column)} USING {c}::{column.Type}"));
            var widens = before.TypeId < TargetTable.FirstUserOid && ColumnTypes.Widens(before.TypeId, before.TypeModifier, relation.TypeIds[i], relation.TypeModifiers[i]);
            again |= !widens;
            described.Add($"column {c} changed from {before.Type} to {column.Type}{(widens ? "" : " (a USING on the source may have given other values)")}");
        }

        if (again && await ReferencedAsync(altered, cancellationToken))
        {
            // Its copy is loaded into an emptied table, and a table other tables' foreign keys reference cannot be emptied alone.
            throw SchemaCarry.CannotCarry(altered, $"the rows it held cannot take the values the source gave them ({string.Join(", ", described)}) without copying it again, and other tables' foreign keys reference it. Run on the target {string.Join("; ", statements)}; and update those rows' values as on the source");
        }

        var description = $"{altered}: {string.Join(", ", described)}{(again ? "; its rows are copied again at their place in the source's order" : "")}";
        reporter.Info($"Carrying a column change to the target: {description}.");
        return new ColumnCarry(altered, statements, again ? (leaves.Count > 0 ? leaves : [altered]) : [], description);
    }

    private async Task<bool> ReferencedAsync(string qualified, CancellationToken cancellationToken)
    {
        using (await sourceSession.TurnAsync(cancellationToken))
        {
            var session = await sourceSession.OpenAsync(cancellationToken);
            return await Db.ScalarAsync<bool>(session, $"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE contype = 'f' AND confrelid IN (SELECT relid FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass({Db.Literal(qualified)})) UNION SELECT pg_catalog.to_regclass({Db.Literal(qualified)})))", cancellationToken);
        }
    }

    /// <param name="createSequence">The statement that creates a serial column's sequence, as the source has it.</param>
    private static IEnumerable<string> Added(SourceColumn column, string qualified, string? createSequence, out bool copyAgain)
    {
        string Alter(string what) => $"ALTER TABLE {qualified} {what}";
        var c = Db.Ident(column.Name);
        var add = $"ADD COLUMN IF NOT EXISTS {c} {column.Type}{Collate(column)}";
        var statements = new List<string>();
        copyAgain = false;
        if (column.Identity is "a" or "d")
        {
            // Each side numbers its existing rows in its own order.
            statements.Add(Alter($"{add} GENERATED {(column.Identity == "a" ? "ALWAYS" : "BY DEFAULT")} AS IDENTITY"));
            copyAgain = true;
            return statements;
        }

        if (createSequence is not null)
        {
            // A serial: its sequence first, then the column numbering the target's rows from it (copied again: each
            // side numbers its own rows in its own order); the cutover sets the sequence's value as the source's.
            statements.Add(createSequence);
            statements.Add(Alter($"{add} DEFAULT {column.Default}"));
            copyAgain = true;
        }
        else if (column.Missing is { } stored)
        {
            // The source's existing rows hold this value (a fast default, taken once when the column was added).
            statements.Add(Alter($"{add} DEFAULT ({Db.Literal(stored)}::{column.Type}[])[1]"));
            statements.Add(Alter(column.Default is { } d ? $"ALTER COLUMN {c} SET DEFAULT {d}" : $"ALTER COLUMN {c} DROP DEFAULT"));
        }
        else if (column.Default is { } volatileDefault)
        {
            statements.Add(Alter($"{add} DEFAULT {volatileDefault}"));
            copyAgain = true;
        }
        else
        {
            statements.Add(Alter(add));
        }

        if (column.NotNull)
        {
            statements.Add(Alter($"ALTER COLUMN {c} SET NOT NULL"));
        }

        if (column.Sequence is { } sequence && createSequence is not null)
        {
            statements.Add($"ALTER SEQUENCE {sequence} OWNED BY {qualified}.{c}");
        }

        return statements;
    }

    private static string Collate(SourceColumn column) => column.Collation is { } collation ? $" COLLATE {collation}" : "";

    /// <summary>A source column as <c>CarriedColumns.sql</c> reads it.</summary>
    private sealed record SourceColumn(string Name, string Type, string? Collation, bool NotNull, string? Default, string Identity, string? Missing, string? Sequence);
}

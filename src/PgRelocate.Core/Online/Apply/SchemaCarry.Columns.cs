using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Online.Apply;

/// <summary>What the target's table needs to take the source's new shape, and whether its rows must be copied again.</summary>
/// <param name="Statements">Run on the target in the apply's transaction, before the first row of the new shape; safe to run again.</param>
/// <param name="CopyAgain">The tables (quoted names) to copy again at a marker, when the existing rows' values of an added column cannot be made on the target (a volatile default, an identity): the table, or every partition of its partitioned root.</param>
internal sealed record ColumnCarry(IReadOnlyList<string> Statements, IReadOnlyList<string> CopyAgain, string Description);

/// <summary>
/// Column changes on the source while following (ADD COLUMN, DROP COLUMN), carried when the
/// stream describes a table with a column list the target's table does not have: pgoutput sends the new description
/// before the first change of the new shape, so the apply changes the target's table in that change's transaction,
/// in the source's commit order. The added column is made as the source has it now (type, collation, default,
/// NOT NULL, identity); the rows that existed before it take the value the source gave them:
/// a fast default's stored value, NULL without a default, and otherwise (a volatile default, an identity) the
/// table is copied again at a marker of its own (<see cref="CarryAsync"/>).
/// A partition's columns are changed through its partitioned root, as on the source (a partition cannot be altered
/// alone). A renamed column (one column gone and another come) is not told from a dropped and an added one, and stops.
/// </summary>
internal sealed partial class SchemaCarry
{
    private readonly HashSet<string> _again = new(StringComparer.Ordinal);

    /// <summary>The statements that give the target's table the source's columns, or null when the change cannot be carried.</summary>
    public async Task<ColumnCarry?> ColumnsAsync(SourceRelation relation, ColumnDifference difference, CancellationToken cancellationToken)
    {
        // Not carried yet: a rename (a column gone and another come) and a type change stop the follow, naming them.
        if ((difference.Missing.Count > 0 && difference.Extra.Count > 0) || difference.Retyped.Count > 0)
        {
            return null;
        }

        var qualified = Db.Qualified(relation.Schema, relation.Name);
        List<SourceColumn> columns;
        List<string> leaves;
        string altered;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var session = await SessionAsync(cancellationToken);
            // The columns as the table itself has them (a partition holds the stored value of a fast default, its
            // partitioned root none), changed through the root, and copied again leaf by leaf.
            const string Names = "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace";
            var root = await Db.ListAsync(session, $"{Names} WHERE c.oid = pg_catalog.pg_partition_root(pg_catalog.to_regclass({Db.Literal(qualified)}))", r => Db.Qualified(r.GetString(0), r.GetString(1)), cancellationToken);
            leaves = await Db.ListAsync(session, $"{Names} JOIN pg_catalog.pg_partition_tree(pg_catalog.to_regclass({Db.Literal(root.FirstOrDefault() ?? qualified)})) t ON t.relid = c.oid WHERE t.isleaf", r => Db.Qualified(r.GetString(0), r.GetString(1)), cancellationToken);
            altered = root.FirstOrDefault() ?? qualified;
            await using var cmd = new NpgsqlCommand(OnlineSql.CarriedColumns, session);
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
        finally
        {
            _gate.Release();
        }

        var statements = new List<string>();
        var described = new List<string>();
        var again = false;
        string Alter(string what) => $"ALTER TABLE {altered} {what}";
        foreach (var column in columns.Where(c => difference.Missing.Contains(c.Name, StringComparer.Ordinal)))
        {
            statements.AddRange(Added(column, altered, out var copy));
            again |= copy;
            described.Add($"column {Db.Ident(column.Name)} added");
        }

        foreach (var name in difference.Extra)
        {
            if (columns.Any(c => c.Name == name))
            {
                // Still on the source, only no longer sent (made a generated column?): not a change this carries.
                return null;
            }

            statements.Add(Alter($"DROP COLUMN IF EXISTS {Db.Ident(name)}"));
            described.Add($"column {Db.Ident(name)} dropped");
        }

        if (again && await ReferencedAsync(altered, cancellationToken))
        {
            // Its copy is loaded into an emptied table, and a table other tables' foreign keys reference cannot be emptied alone.
            throw CannotCarry(altered, $"the rows it held cannot take the values the source gave them ({string.Join(", ", described)}) without copying it again, and other tables' foreign keys reference it. Change it on the target as on the source and update those rows' values");
        }

        var description = $"{altered}: {string.Join(", ", described)}{(again ? "; its rows are copied again at their place in the source's order" : "")}";
        reporter.Info($"Carrying a column change to the target: {description}.");
        return new ColumnCarry(statements, again ? (leaves.Count > 0 ? leaves : [altered]) : [], description);
    }

    private async Task<bool> ReferencedAsync(string qualified, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var session = await SessionAsync(cancellationToken);
            return await Db.ScalarAsync<bool>(session, $"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE contype = 'f' AND confrelid IN (SELECT relid FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass({Db.Literal(qualified)})) UNION SELECT pg_catalog.to_regclass({Db.Literal(qualified)})))", cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Copies the table again at a marker at the next look (kept in the migration's folder until its copy is taken: a kill in between does not lose it).</summary>
    public void CopyAgain(IReadOnlyList<string> tables)
    {
        lock (_lock)
        {
            if (tables.Count(_again.Add) > 0)
            {
                SaveAgain();
            }
        }
    }

    private bool Again(string qualified)
    {
        lock (_lock)
        {
            return _again.Contains(qualified);
        }
    }

    private void Taken(IEnumerable<string> tables)
    {
        lock (_lock)
        {
            _again.ExceptWith(tables);
            SaveAgain();
        }
    }

    private string AgainFile => Path.Combine(Folder, "again");

    private void LoadAgain()
    {
        if (File.Exists(AgainFile))
        {
            _again.UnionWith(File.ReadAllLines(AgainFile).Where(l => l.Length > 0));
        }
    }

    private void SaveAgain()
    {
        Directory.CreateDirectory(Folder);
        var temporary = AgainFile + ".new";
        File.WriteAllLines(temporary, _again.Order(StringComparer.Ordinal));
        File.Move(temporary, AgainFile, overwrite: true);
    }

    private static IEnumerable<string> Added(SourceColumn column, string qualified, out bool copyAgain)
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

        if (column.Sequence is { } sequence)
        {
            throw CannotCarry(qualified, $"its new column {c} takes its values from sequence {sequence} (a serial), which the follow does not create yet. Create the sequence and the column on the target as on the source");
        }

        if (column.Missing is { } stored)
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

        return statements;
    }

    private static string Collate(SourceColumn column) => column.Collation is { } collation ? $" COLLATE {collation}" : "";

    /// <summary>A source column as <c>CarriedColumns.sql</c> reads it.</summary>
    private sealed record SourceColumn(string Name, string Type, string? Collation, bool NotNull, string? Default, string Identity, string? Missing, string? Sequence);
}

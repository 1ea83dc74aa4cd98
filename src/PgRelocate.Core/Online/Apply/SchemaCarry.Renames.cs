using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online.Apply;

/// <summary>
/// Tables renamed on the source while following (<c>ALTER TABLE … RENAME TO</c>, <c>SET SCHEMA</c>), told from a
/// table dropped and another created by the source's oid, as a renamed column is told by its number: the carry keeps
/// every name it has seen each source table under (the <c>names</c> file in the migration's folder, from the follow's
/// first look on), and a table the stream or the watch meets under a name the target lacks, whose earlier name the
/// target holds, is renamed on the target instead of created and copied. The rename is the table's definition in the
/// carry's two ways in: before the stream's first change under the new name (in that change's lane transaction), or
/// at a marker the watch writes after the rename (a table renamed and not written since); whichever comes first
/// renames it, the other finds it renamed. Its rows stay: nothing is copied again. After a restart the stream may
/// send again changes made before the rename, under the old name, which the target's table (renamed since, in the
/// same lane and after them, its stored position past them) holds already: they are left out.
/// </summary>
internal sealed partial class SchemaCarry
{
    private readonly Dictionary<uint, List<(string Schema, string Name)>> _names = [];

    private string NamesFile => Path.Combine(Folder, "names");

    /// <summary>
    /// The table's definition when the target holds it under an earlier name: the statements that rename it there
    /// (<c>SET SCHEMA</c>, then <c>RENAME TO</c>), nothing copied; the table as described otherwise.
    /// </summary>
    private CarriedTable Renaming(CarriedTable table)
    {
        var relation = table.Relation;
        if (Note(relation.Id, relation.Schema, relation.Name))
        {
            SaveNames();
        }

        if (RenamedFrom(relation.Id, table.Qualified) is not { } from)
        {
            return table;
        }

        var statements = new List<string>();
        var (schema, name) = from;
        if (schema != relation.Schema)
        {
            // Into a schema made on the source while following: the target lacks it until now.
            statements.Add(SchemaStatement(relation.Schema));
            statements.Add($"ALTER TABLE IF EXISTS {Db.Qualified(schema, name)} SET SCHEMA {Db.Ident(relation.Schema)}");
        }

        if (name != relation.Name)
        {
            statements.Add($"ALTER TABLE IF EXISTS {Db.Qualified(relation.Schema, name)} RENAME TO {Db.Ident(relation.Name)}");
        }

        // In the lane of the group it was in under its earlier name (the routes know the target's names).
        return table with { Statements = statements, Ties = [.. table.Ties, Db.Qualified(schema, name)], RenamedFrom = Db.Qualified(schema, name) };
    }

    /// <summary>The statement that makes <paramref name="schema"/> on the target when it lacks it (<c>CarriedSchema.sql</c>), before a table is created or moved there.</summary>
    internal static string SchemaStatement(string schema) =>
        CatalogSql.Load("Online/CarriedSchema.sql", new Dictionary<string, string> { ["schema"] = Db.Literal(schema), ["name"] = Db.Ident(schema) });

    /// <summary>An earlier name of the source table <paramref name="oid"/> that the target holds, when the target lacks <paramref name="qualified"/>.</summary>
    private (string Schema, string Name)? RenamedFrom(uint oid, string qualified)
    {
        lock (_lock)
        {
            if (_onTarget.Contains(qualified) || !_names.TryGetValue(oid, out var names))
            {
                return null;
            }

            return names.Where(n => Db.Qualified(n.Schema, n.Name) != qualified && _onTarget.Contains(Db.Qualified(n.Schema, n.Name))).Select(n => ((string, string)?)n).LastOrDefault();
        }
    }

    /// <summary>Each target table's stored position (read at the follow session's start): a change committed before it is applied there.</summary>
    public IReadOnlyDictionary<string, ulong> Positions { get; set; } = new Dictionary<string, ulong>();

    /// <summary>
    /// True when the stream sends a change of a table under a name the target lacks while the target holds the table
    /// under another of its names, with a stored position past the change's commit: a change from before a rename the
    /// target has applied and committed (sent again after a restart), which the renamed table holds already.
    /// </summary>
    public bool Superseded(SourceRelation relation, ulong commitLsn) =>
        RenamedFrom(relation.Id, Db.Qualified(relation.Schema, relation.Name)) is { } from
        && Positions.TryGetValue(Db.Qualified(from.Schema, from.Name), out var at) && commitLsn < at;

    /// <summary>Notes a name the source gives a table; true when it is new (then saved by the caller: a rename after a restart is still told).</summary>
    private bool Note(uint oid, string schema, string name)
    {
        lock (_lock)
        {
            if (!_names.TryGetValue(oid, out var names))
            {
                _names[oid] = names = [];
            }

            if (names.Contains((schema, name)))
            {
                return false;
            }

            names.Add((schema, name));
            return true;
        }
    }

    private void LoadNames()
    {
        if (!File.Exists(NamesFile))
        {
            return;
        }

        foreach (var line in File.ReadAllLines(NamesFile))
        {
            if (line.Split('\t') is [var oid, var schema, var name] && uint.TryParse(oid, System.Globalization.CultureInfo.InvariantCulture, out var id))
            {
                if (!_names.TryGetValue(id, out var names))
                {
                    _names[id] = names = [];
                }

                names.Add((schema, name));
            }
        }
    }

    private void SaveNames()
    {
        Directory.CreateDirectory(Folder);
        lock (_lock)
        {
            WriteLines(NamesFile, _names.SelectMany(t => t.Value.Select(n => string.Join('\t', t.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), n.Schema, n.Name))));
        }
    }

    /// <summary>The source's tables with their oids (<c>CarryCandidates.sql</c>), each name noted.</summary>
    private async Task<List<(uint Oid, string Qualified, uint Parent, bool HasRows, bool Published)>> CandidatesAsync(NpgsqlConnection session, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(OnlineSql.CarryCandidates, session);
        cmd.Parameters.AddWithValue("publication", _publication);
        var candidates = new List<(uint, string, uint, bool, bool)>();
        var noted = false;
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                var oid = r.GetFieldValue<uint>(0);
                noted |= Note(oid, r.GetString(1), r.GetString(2));
                candidates.Add((oid, Db.Qualified(r.GetString(1), r.GetString(2)), r.GetFieldValue<uint>(3), r.GetBoolean(4), r.GetBoolean(5)));
            }
        }

        if (noted)
        {
            SaveNames();
        }

        return candidates;
    }
}

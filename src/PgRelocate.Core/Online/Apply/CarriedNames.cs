using Npgsql;
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
/// This class keeps the names, by the source table's oid.
/// </summary>
internal sealed class CarriedNames(string folder)
{
    private readonly object _lock = new();
    private readonly Dictionary<uint, List<(string Schema, string Name)>> _names = [];

    private string NamesFile => Path.Combine(folder, "names");

    /// <summary>True when the file is there: the tables' names were noted at the follow's first start.</summary>
    public bool Saved => File.Exists(NamesFile);

    /// <summary>The names the source table <paramref name="oid"/> had, the earliest first (null when none is noted).</summary>
    public IReadOnlyList<(string Schema, string Name)>? Of(uint oid)
    {
        lock (_lock)
        {
            return _names.TryGetValue(oid, out var names) ? [.. names] : null;
        }
    }

    /// <summary>The latest of the names the source table <paramref name="oid"/> had, other than <paramref name="qualified"/>, that the target holds (<paramref name="held"/>); null when none.</summary>
    public (string Schema, string Name)? HeldElsewhere(uint oid, string qualified, Func<string, bool> held) =>
        Of(oid)?.Where(n => Db.Qualified(n.Schema, n.Name) != qualified && held(Db.Qualified(n.Schema, n.Name))).Select(n => ((string, string)?)n).LastOrDefault();

    /// <summary>Notes a name the source gives a table; true when it is new (then saved by the caller: a rename after a restart is still told).</summary>
    public bool Note(uint oid, string schema, string name)
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

    /// <summary>
    /// Notes the name of every table of the source (<c>CarryCandidates.sql</c>) as the snapshot copy starts, in the
    /// migration's folder <paramref name="folder"/> (the carry's folder there): a table renamed or moved to another
    /// schema after the copy and before the follow's first look is then still told from one dropped and another
    /// created, by its name at the copy, the one the target holds. (Noted at the follow's first look only, such a
    /// table had its new name alone, and was copied again under it.)
    /// </summary>
    public static async Task NoteAtCopyAsync(NpgsqlConnection source, string publication, string folder, CancellationToken cancellationToken)
    {
        var names = new CarriedNames(Path.Combine(folder, SchemaCarry.FolderName));
        await names.CandidatesAsync(source, publication, cancellationToken);
        names.Save();
    }

    /// <summary>The source's tables the carry compares with the target (<c>CarryCandidates.sql</c>), with their oids and parents' oids, each name noted (saved when one is new).</summary>
    public async Task<List<(uint Oid, string Qualified, uint Parent, bool HasRows, bool Published)>> CandidatesAsync(NpgsqlConnection session, string publication, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(OnlineSql.CarryCandidates, session);
        cmd.Parameters.AddWithValue("publication", publication);
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
            Save();
        }

        return candidates;
    }

    /// <summary>Reads the names a run before this one noted.</summary>
    public void Load()
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

    /// <summary>Writes every name noted (the file replaced whole).</summary>
    public void Save()
    {
        Directory.CreateDirectory(folder);
        lock (_lock)
        {
            CarriedFile.WriteLines(NamesFile, _names.SelectMany(t => t.Value.Select(n => string.Join('\t', t.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), n.Schema, n.Name))));
        }
    }

    /// <summary>
    /// The table's definition when the target holds it under the earlier name <paramref name="from"/>: the statements
    /// that rename it there (<c>SET SCHEMA</c>, then <c>RENAME TO</c>), nothing copied.
    /// </summary>
    public static CarriedTable Renamed(CarriedTable table, (string Schema, string Name) from)
    {
        var statements = new List<string>();
        var (schema, name) = from;
        if (schema != table.Relation.Schema)
        {
            // Into a schema made on the source while following: the target lacks it until now.
            statements.Add(CarriedTable.SchemaStatement(table.Relation.Schema));
            statements.Add($"ALTER TABLE IF EXISTS {Db.Qualified(schema, name)} SET SCHEMA {Db.Ident(table.Relation.Schema)}");
        }

        if (name != table.Relation.Name)
        {
            statements.Add($"ALTER TABLE IF EXISTS {Db.Qualified(table.Relation.Schema, name)} RENAME TO {Db.Ident(table.Relation.Name)}");
        }

        // In the lane of the group it was in under its earlier name (the routes know the target's names).
        return table with { Statements = statements, Ties = [.. table.Ties, Db.Qualified(schema, name)], RenamedFrom = Db.Qualified(schema, name) };
    }
}

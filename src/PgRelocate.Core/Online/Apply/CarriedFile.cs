using System.Text;

namespace PgRelocate.Online.Apply;

/// <summary>
/// The file of tables carried at one marker (<see cref="SchemaCarry.CarryAsync"/>, written by <see cref="WriteAsync"/>): their definitions in the order
/// that creates them, then the rows of those copied, as COPY's text lines, read one at a time when applied.
/// </summary>
internal sealed class CarriedFile
{
    private readonly List<(CarriedTable Table, bool Copied)> _tables = [];

    public CarriedFile(string path)
    {
        Path = path;
        using var file = File.OpenRead(path);
        using var r = new BinaryReader(file, Encoding.UTF8);
        ReadHeader(r);
    }

    public string Path { get; }

    /// <summary>The tables, parents and referenced tables before the tables tied to them.</summary>
    public IReadOnlyList<CarriedTable> Tables => [.. _tables.Select(t => t.Table)];

    /// <summary>The tables whose rows the file holds: the target's are replaced by them.</summary>
    public IReadOnlyList<CarriedTable> Copied => [.. _tables.Where(t => t.Copied).Select(t => t.Table)];

    /// <summary>Each copied table's rows in the file's order (the referenced tables' first), read as they are applied.</summary>
    public IEnumerable<(CarriedTable Table, RowValues Row)> Rows()
    {
        using var file = File.OpenRead(Path);
        using var r = new BinaryReader(file, Encoding.UTF8);
        var tables = new List<(CarriedTable Table, bool Copied)>();
        ReadHeader(r, tables);
        foreach (var (table, copied) in tables.Where(t => t.Copied))
        {
            while (r.ReadBoolean())
            {
                yield return (table, Parse(r.ReadString(), table.Relation.Columns.Count));
            }
        }
    }

    /// <summary>One line of COPY's text format: fields split by tabs, \N for null, backslash escapes.</summary>
    internal static RowValues Parse(string line, int columns)
    {
        var values = new string?[columns];
        var field = 0;
        var text = new StringBuilder();
        var isNull = false;
        for (var i = 0; i <= line.Length; i++)
        {
            if (i == line.Length || line[i] == '\t')
            {
                if (field < columns)
                {
                    values[field] = isNull ? null : text.ToString();
                }

                field++;
                text.Clear();
                isNull = false;
                continue;
            }

            var c = line[i];
            if (c != '\\' || i + 1 >= line.Length)
            {
                text.Append(c);
                continue;
            }

            var e = line[++i];
            switch (e)
            {
                case 'N' when text.Length == 0 && (i + 1 == line.Length || line[i + 1] == '\t'):
                    isNull = true;
                    break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'v': text.Append('\v'); break;
                case >= '0' and <= '7':
                    var octal = e - '0';
                    for (var k = 0; k < 2 && i + 1 < line.Length && line[i + 1] is >= '0' and <= '7'; k++)
                    {
                        octal = (octal * 8) + (line[++i] - '0');
                    }

                    text.Append((char)octal);
                    break;
                default:
                    text.Append(e);
                    break;
            }
        }

        return new RowValues(values, new bool[columns]);
    }

    private void ReadHeader(BinaryReader r) => ReadHeader(r, _tables);

    /// <summary>
    /// Written first, before the count of tables, by this version: each table then ends with the earlier name the
    /// target holds it under (or none). A file a version before it wrote (kept by a migration stopped then) starts
    /// with the count, and its renames are taken as written.
    /// </summary>
    private const int WithRenames = -2;

    private static void ReadHeader(BinaryReader r, List<(CarriedTable Table, bool Copied)> into)
    {
        var first = r.ReadInt32();
        var renames = first == WithRenames;
        var count = renames ? r.ReadInt32() : first;
        for (var t = 0; t < count; t++)
        {
            var (id, schema, name) = (r.ReadUInt32(), r.ReadString(), r.ReadString());
            var n = r.ReadInt32();
            var (columns, key, types, modifiers) = (new string[n], new bool[n], new uint[n], new int[n]);
            for (var i = 0; i < n; i++)
            {
                (columns[i], key[i], types[i], modifiers[i]) = (r.ReadString(), r.ReadBoolean(), r.ReadUInt32(), r.ReadInt32());
            }

            var statements = ReadList(r);
            var ties = ReadList(r);
            var copied = r.ReadBoolean();
            var renamedFrom = renames && r.ReadBoolean() ? r.ReadString() : null;
            var relation = new SourceRelation(id, schema, name, columns, key, types, modifiers);
            into.Add((new CarriedTable(relation, Connections.Db.Qualified(schema, name), statements, ties, copied, renamedFrom), copied));
        }
    }

    private static List<string> ReadList(BinaryReader r)
    {
        var items = new List<string>();
        for (var n = r.ReadInt32(); n > 0; n--)
        {
            items.Add(r.ReadString());
        }

        return items;
    }

    /// <summary>
    /// The tables in an order that creates each after those it is tied to (its parent, the tables it references) and
    /// after a table renamed away from its name (<c>RENAME TO a_old</c>, then a new table <c>a</c>); a renamed table's
    /// tie to its earlier name is its lane's, no order.
    /// </summary>
    internal static List<CarriedTable> Ordered(List<CarriedTable> tables)
    {
        static bool Waits(CarriedTable t, CarriedTable o) =>
            o != t && ((o.Qualified != t.RenamedFrom && t.Ties.Contains(o.Qualified)) || o.RenamedFrom == t.Qualified);
        var ordered = new List<CarriedTable>();
        var left = new List<CarriedTable>(tables);
        while (left.Count > 0)
        {
            var ready = left.FirstOrDefault(t => !left.Any(o => Waits(t, o))) ?? left[0];
            ordered.Add(ready);
            left.Remove(ready);
        }

        return ordered;
    }

    /// <summary>Writes the definitions and the rows of the tables copied (COPY's text lines, as the server writes them), synced before the marker commits.</summary>
    internal static async Task WriteAsync(Npgsql.NpgsqlConnection session, string path, List<CarriedTable> tables, List<string> copied, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        await using (var w = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(WithRenames);
            w.Write(tables.Count);
            foreach (var t in tables)
            {
                var r = t.Relation;
                w.Write(r.Id);
                w.Write(r.Schema);
                w.Write(r.Name);
                w.Write(r.Columns.Count);
                for (var i = 0; i < r.Columns.Count; i++)
                {
                    w.Write(r.Columns[i]);
                    w.Write(r.Key[i]);
                    w.Write(r.TypeIds[i]);
                    w.Write(r.TypeModifiers[i]);
                }

                WriteList(w, t.Statements);
                WriteList(w, t.Ties);
                w.Write(t.HasRows && copied.Contains(t.Qualified));
                // A rename is applied from the name the target holds then, not the one the look found (SchemaCarry.RenamedAsNow).
                w.Write(t.RenamedFrom is not null);
                if (t.RenamedFrom is not null)
                {
                    w.Write(t.RenamedFrom);
                }
            }

            for (var i = 0; i < tables.Count; i++)
            {
                var t = tables[i];
                if (!t.HasRows || !copied.Contains(t.Qualified))
                {
                    continue;
                }

                var columns = string.Join(", ", t.Relation.Columns.Select(Connections.Db.Ident));
                using var reader = await session.BeginTextExportAsync($"COPY (SELECT {columns} FROM ONLY {t.Qualified}) TO STDOUT", cancellationToken);
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    w.Write(true);
                    w.Write(line);
                }

                w.Write(false);
            }
        }

        await file.FlushAsync(cancellationToken);
        file.Flush(flushToDisk: true);
    }

    private static void WriteList(BinaryWriter w, IReadOnlyList<string> items)
    {
        w.Write(items.Count);
        foreach (var item in items)
        {
            w.Write(item);
        }
    }

    /// <summary>Writes one of the carried tables' lists (<c>names</c>, <c>again</c>, <c>yielded</c>) whole or not at all: a new file moved over the old one.</summary>
    internal static void WriteLines(string path, IEnumerable<string> lines)
    {
        var temporary = path + ".new";
        File.WriteAllLines(temporary, lines);
        File.Move(temporary, path, overwrite: true);
    }
}

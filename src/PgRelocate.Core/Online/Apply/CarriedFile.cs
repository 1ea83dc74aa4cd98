using System.Text;

namespace PgRelocate.Online.Apply;

/// <summary>
/// The file of tables carried at one marker (<see cref="SchemaCarry.CarryAsync"/>): their definitions in the order
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

    private static void ReadHeader(BinaryReader r, List<(CarriedTable Table, bool Copied)> into)
    {
        var count = r.ReadInt32();
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
            var relation = new SourceRelation(id, schema, name, columns, key, types, modifiers);
            into.Add((new CarriedTable(relation, Connections.Db.Qualified(schema, name), statements, ties, copied), copied));
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
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Tools;

namespace PgRelocate.Copy;

/// <summary>
/// An index or primary key/unique/exclusion constraint of a copied table, built as soon as the table's rows
/// are in. A primary key or unique constraint is built as its unique index (<see cref="Sql"/>, which runs
/// alongside the table's other index builds) and made a constraint afterwards (<see cref="AttachSql"/>,
/// which takes a brief exclusive lock): built directly, it would lock the table for the whole build and
/// hold up every other index of that table.
/// </summary>
internal sealed record TableIndex(uint TableOid, string Name, string Sql, string? AttachSql = null)
{
    /// <summary>A GIN, GiST or SP-GiST build: usually the longest single step of a copy, started before the table's B-trees.</summary>
    public bool BuildsFirst => IndexBuilds.IsSlow(Sql);

    public bool IsGin => IndexBuilds.IsGin(Sql);
}

/// <summary>
/// The source's schema, dumped once in the coordinator's snapshot (<c>pg_dump -Fc --section=pre-data
/// --section=post-data</c>, no rows, no large objects) to a temporary file, and split three ways:
/// the pre-data section, restored first; each copied table's indexes and key constraints, as pg_dump wrote
/// them, to run right after that table's data; and the rest of post-data (foreign keys, triggers, partitioned
/// parents' indexes and their ATTACH entries, materialized view data), restored last from a list file.
/// </summary>
internal sealed partial class SchemaArchive
{
    private SchemaArchive(string path, PgTool pgRestore, IReadOnlyList<string> extensions, IReadOnlyDictionary<uint, List<TableIndex>> indexes, string restList, int restCount)
    {
        Path = path;
        PgRestore = pgRestore;
        Extensions = extensions;
        Indexes = indexes;
        RestListPath = restList;
        RestCount = restCount;
    }

    public string Path { get; }

    public PgTool PgRestore { get; }

    public IReadOnlyList<string> Extensions { get; }

    /// <summary>Table oid → its indexes and key constraints.</summary>
    public IReadOnlyDictionary<uint, List<TableIndex>> Indexes { get; }

    /// <summary>A pg_restore list file of the post-data entries not built per table.</summary>
    public string RestListPath { get; }

    public int RestCount { get; }

    public static async Task<SchemaArchive> CreateAsync(
        PgBinaries binaries, PgConnectionInfo source, SourceSnapshot snapshot, int targetMajor, string folder, CopyLog log, IReporter reporter, CancellationToken cancellationToken)
    {
        var pgDump = binaries.PgDumpFor(snapshot.Facts.ServerMajor);
        var path = System.IO.Path.Combine(folder, "schema.dump");
        // -B: large objects are copied by our workers, from the same snapshot; sequence values are set by us.
        await new PgDump(pgDump, source, reporter, log.Write).RunAsync(
            ["--section=pre-data", "--section=post-data", "-B", "--snapshot=" + snapshot.Id, "--file=" + path], null, null, "the source's schema", cancellationToken);

        var pgRestore = binaries.PgRestoreFor(pgDump.Major, targetMajor);
        var toc = await Tools.PgRestore.ReadTextAsync(pgRestore, ["--list", path], null, "The schema archive", cancellationToken);
        var entries = toc.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith(';')).ToList();

        var copied = snapshot.Tables.Select(t => t.Oid).ToHashSet();
        var early = new List<(string Line, uint Table, string Name, uint? Constraint)>();
        var rest = new List<string>();
        foreach (var line in entries)
        {
            if (TableOf(line, snapshot) is { } table && copied.Contains(table.Oid))
            {
                early.Add((line, table.Oid, table.Name, table.Constraint));
            }
            else
            {
                rest.Add(line);
            }
        }

        var indexes = new Dictionary<uint, List<TableIndex>>();
        if (early.Count > 0)
        {
            var earlyList = System.IO.Path.Combine(folder, "indexes.list");
            await File.WriteAllLinesAsync(earlyList, early.Select(e => e.Line), cancellationToken);
            var script = await Tools.PgRestore.ReadTextAsync(pgRestore, ["--no-owner", "--no-acl", "--no-tablespaces", "--file=-", "--use-list=" + earlyList, path], null, "The schema archive", cancellationToken);
            var statements = ArchiveToc.SplitScript(script).Select(e => e.Sql).ToList();
            if (statements.Count != early.Count)
            {
                throw new PgRelocateException($"pg_restore wrote {statements.Count} statements for {early.Count} index entries: this pg_restore's output is not understood. Use 'dump' and 'restore' instead, and report this.");
            }

            for (var i = 0; i < early.Count; i++)
            {
                if (!indexes.TryGetValue(early[i].Table, out var list))
                {
                    indexes[early[i].Table] = list = [];
                }

                list.Add(Build(early[i].Table, early[i].Name, statements[i], early[i].Constraint, snapshot));
            }
        }

        var restList = System.IO.Path.Combine(folder, "post-data.list");
        await File.WriteAllLinesAsync(restList, rest, cancellationToken);
        return new SchemaArchive(path, pgRestore, RestoreRunner.ExtensionsIn(entries), indexes, restList, rest.Count);
    }

    /// <summary>
    /// pg_dump's statement, or for a primary key or unique constraint alone in its entry (no REPLICA IDENTITY
    /// or CLUSTER after it), its unique index and the ALTER TABLE ... USING INDEX that makes it the constraint.
    /// </summary>
    private static TableIndex Build(uint table, string name, string sql, uint? constraint, SourceSnapshot snapshot)
    {
        if (constraint is { } oid && snapshot.KeyConstraints.TryGetValue(oid, out var key) && sql.IndexOf(';', StringComparison.Ordinal) == sql.Length - 1
            && snapshot.Tables.FirstOrDefault(t => t.Oid == table) is { } copied)
        {
            var attach = $"ALTER TABLE ONLY {copied.Qualified} ADD CONSTRAINT {Db.Ident(key.Name)} {(key.IsPrimaryKey ? "PRIMARY KEY" : "UNIQUE")} USING INDEX {Db.Ident(key.IndexName)}"
                + (key.Deferrable ? " DEFERRABLE" : "") + (key.Deferred ? " INITIALLY DEFERRED" : "");
            return new TableIndex(table, name, key.IndexDefinition, attach);
        }

        return new TableIndex(table, name, sql);
    }

    /// <summary>
    /// The copied table an index or key constraint entry of <c>pg_restore --list</c> belongs to, found by the
    /// entry's catalog oid ("3228; 2606 16399 CONSTRAINT public c c_pkey owner"); null for anything else.
    /// </summary>
    private static (uint Oid, string Name, uint? Constraint)? TableOf(string line, SourceSnapshot snapshot)
    {
        var m = TocLine().Match(line);
        if (!m.Success)
        {
            return null;
        }

        var catalog = uint.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var oid = uint.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        var desc = m.Groups[3].Value;
        var name = m.Groups[4].Value;
        uint table;
        if (catalog == 1259 && desc == "INDEX" && snapshot.IndexTables.TryGetValue(oid, out table))
        {
            return (table, name, null);
        }

        if (catalog == 2606 && desc == "CONSTRAINT" && snapshot.ConstraintTables.TryGetValue(oid, out table))
        {
            return (table, name, oid);
        }

        return null;
    }

    [GeneratedRegex(@"^\d+; (\d+) (\d+) (INDEX|CONSTRAINT) \S+ (.+) \S+$")]
    private static partial Regex TocLine();
}

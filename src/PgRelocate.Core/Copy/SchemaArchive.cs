using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Runners;
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
    /// <summary>pg_dump's own statement: for a key constraint, the one that builds its index and makes it the constraint at once.</summary>
    public string Statement { get; init; } = Sql;

    /// <summary>A GIN, GiST or SP-GiST build: usually the longest single step of a copy, started before the table's B-trees.</summary>
    public bool BuildsFirst => IndexBuilds.IsSlow(Sql);

    public bool IsGin => IndexBuilds.IsGin(Sql);
}

/// <summary>
/// The source's schema, dumped once in the coordinator's snapshot (<c>pg_dump -Fc --section=pre-data
/// --section=post-data</c>, no rows, no large objects) to a temporary file, and split four ways:
/// the pre-data section, restored first; each copied table's indexes and key constraints, as pg_dump wrote
/// them, to run right after that table's data; the rest of post-data (triggers, partitioned parents' indexes
/// and their ATTACH entries, materialized view data), restored from a list file; and the foreign keys, added
/// NOT VALID and validated last (<see cref="ForeignKeyValidation"/>).
/// </summary>
internal sealed class SchemaArchive
{
    private SchemaArchive(string path, PgTool pgRestore, IReadOnlyList<ArchiveEntry> entries, IReadOnlyList<string> extensions, IReadOnlyDictionary<uint, List<TableIndex>> indexes, string restList, int restCount, bool restScalesWithData, IReadOnlyList<ValidatedForeignKey> foreignKeys, IReadOnlyList<ArchiveEntry> afterForeignKeys, IReadOnlySet<int> restIds)
    {
        ForeignKeys = foreignKeys;
        ForeignKeysOfTables = [.. foreignKeys.Where(k => !k.Entry.Dependencies.Any(restIds.Contains))];
        AfterForeignKeys = afterForeignKeys;
        Path = path;
        Entries = entries;
        PgRestore = pgRestore;
        Extensions = extensions;
        Indexes = indexes;
        RestListPath = restList;
        RestCount = restCount;
        RestScalesWithData = restScalesWithData;
    }

    private const uint PgClass = 1259;
    private const uint PgConstraint = 2606;

    public string Path { get; }

    public PgTool PgRestore { get; }

    /// <summary>The dump's table of contents.</summary>
    public IReadOnlyList<ArchiveEntry> Entries { get; }

    public IReadOnlyList<string> Extensions { get; }

    /// <summary>Table oid → its indexes and key constraints.</summary>
    public IReadOnlyDictionary<uint, List<TableIndex>> Indexes { get; }

    /// <summary>A pg_restore list file of the post-data entries not built per table, nor among <see cref="ForeignKeys"/> and <see cref="AfterForeignKeys"/>.</summary>
    public string RestListPath { get; }

    public int RestCount { get; }

    /// <summary>Whether the rest holds work that grows with the data (see <see cref="PostDataRest"/>): a foreign key left to pg_restore, a materialized view's data.</summary>
    public bool RestScalesWithData { get; }

    /// <summary>The foreign keys added NOT VALID and validated after the rest (see <see cref="ForeignKeyValidation"/>): not in its list.</summary>
    public IReadOnlyList<ValidatedForeignKey> ForeignKeys { get; }

    /// <summary>
    /// Those of <see cref="ForeignKeys"/> that need nothing of the rest: their tables and what is built per table (the
    /// referenced key's index), so that they may be added once both tables are complete (see <see cref="EarlyForeignKeys"/>).
    /// </summary>
    public IReadOnlyList<ValidatedForeignKey> ForeignKeysOfTables { get; }

    /// <summary>The entries that need one of <see cref="ForeignKeys"/> (a comment on one): restored after them.</summary>
    public IReadOnlyList<ArchiveEntry> AfterForeignKeys { get; }

    /// <summary>
    /// A digest of the schema (every entry's kind, name and statement, the database's own properties left out): a
    /// resumed copy goes on only into the schema it began with.
    /// </summary>
    public string Digest => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n',
        Entries.Where(e => !e.Kind.StartsWith("DATABASE", StringComparison.Ordinal))
            .Select(e => $"{e.Kind}\t{e.QualifiedTag}\t{e.Definition}").Order(StringComparer.Ordinal)))));

    /// <summary>
    /// The pre-data section's runs once the target is prepared, without the schemas the target already has (see
    /// <see cref="ExistingSchemas"/>), which are returned as notes: waves of up to <paramref name="lanes"/> runs to
    /// restore at once (see <see cref="PreDataWaves"/>), or one run when there is little to share.
    /// </summary>
    public async Task<(IReadOnlyList<IReadOnlyList<PgRestoreCall>> Waves, IReadOnlyList<RestoreIssue> Notes)> PreDataAsync(PgConnectionInfo target, int lanes, CancellationToken cancellationToken)
    {
        var existing = await ExistingSchemas.FindAsync(target, Entries, cancellationToken);
        var folder = System.IO.Path.GetDirectoryName(Path)!;
        if (await PreDataWaves.CallsAsync(Path, existing.Restored(Entries), lanes, folder, cancellationToken) is { } waves)
        {
            return (waves, existing.Notes);
        }

        var whole = await existing.ListFileAsync(Entries, System.IO.Path.Combine(folder, "pre-data.list"), cancellationToken);
        return ([[new PgRestoreCall("pre-data") { Archive = Path, Sections = ArchiveSections.PreData, EntryList = whole }]], existing.Notes);
    }

    /// <summary>
    /// Dumps the source's pre-data and post-data sections in the snapshot into <paramref name="folder"/>, and returns
    /// the archive's path for <see cref="ReadAsync"/>. It needs nothing of the target, so it runs while the target is
    /// checked (at thousands of tables, each takes seconds).
    /// </summary>
    public static async Task<string> DumpAsync(PgBinaries binaries, PgConnectionInfo source, SourceSnapshot snapshot, string folder, CopyLog log, IReporter reporter, CancellationToken cancellationToken)
    {
        var path = System.IO.Path.Combine(folder, "schema.dump");
        // No large objects: our workers copy them, from the same snapshot; sequence values are set by us.
        await new PgDump(binaries.PgDumpFor(snapshot.Server.Major), source, reporter, log.Write).DumpSchemaAsync(snapshot.Id, path, "the source's schema", cancellationToken);
        return path;
    }

    /// <summary>The archive <see cref="DumpAsync"/> wrote, sorted into each table's indexes and the rest, to restore with <paramref name="pgRestore"/>.</summary>
    public static async Task<SchemaArchive> ReadAsync(PgTool pgRestore, string path, SourceSnapshot snapshot, CancellationToken cancellationToken)
    {
        var contents = ArchiveContents.Read(path);
        var copied = snapshot.Tables.Select(t => t.Oid).ToHashSet();
        var indexes = new Dictionary<uint, List<TableIndex>>();
        var others = new List<ArchiveEntry>();
        foreach (var entry in contents.Entries)
        {
            if (TableOf(entry, snapshot) is { } table && copied.Contains(table.Oid))
            {
                if (!indexes.TryGetValue(table.Oid, out var list))
                {
                    indexes[table.Oid] = list = [];
                }

                list.Add(Build(table.Oid, entry.Tag, entry.Definition.Trim(), table.Constraint, snapshot));
            }
            else
            {
                others.Add(entry);
            }
        }

        var (rest, keys, after) = ForeignKeyValidation.Split(others);
        var restList = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, "post-data.list");
        await File.WriteAllLinesAsync(restList, rest.Select(e => e.ListLine), cancellationToken);
        return new SchemaArchive(path, pgRestore, contents.Entries, contents.Extensions, indexes, restList, rest.Count, rest.Any(PostDataRest.ScalesWithData), keys, after, rest.Where(e => e.Section == ArchiveSection.PostData).Select(e => e.Id).ToHashSet());
    }

    /// <summary>
    /// pg_dump's statement, or for a primary key or unique constraint alone in its entry (no REPLICA IDENTITY
    /// or CLUSTER after it), its unique index and the ALTER TABLE ... USING INDEX that makes it the constraint.
    /// </summary>
    private static TableIndex Build(uint table, string name, string sql, uint? constraint, SourceSnapshot snapshot)
    {
        if (constraint is { } oid && snapshot.KeyConstraints.TryGetValue(oid, out var key) && sql.IndexOf(';', StringComparison.Ordinal) == sql.Length - 1
            && snapshot.Table(table) is { } copied)
        {
            return new TableIndex(table, name, key.IndexDefinition, key.Attach(copied.Qualified)) { Statement = sql };
        }

        return new TableIndex(table, name, sql);
    }

    /// <summary>
    /// The copied table an INDEX or CONSTRAINT entry belongs to, found by the entry's catalog and object oids
    /// (pg_class for an index, pg_constraint for a constraint); null for anything else.
    /// </summary>
    private static (uint Oid, uint? Constraint)? TableOf(ArchiveEntry entry, SourceSnapshot snapshot)
    {
        uint table;
        if (entry is { CatalogId: PgClass, Kind: "INDEX" } && snapshot.IndexTables.TryGetValue(entry.ObjectId, out table))
        {
            return (table, null);
        }

        if (entry is { CatalogId: PgConstraint, Kind: "CONSTRAINT" } && snapshot.ConstraintTables.TryGetValue(entry.ObjectId, out table))
        {
            return (table, entry.ObjectId);
        }

        return null;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using PgRelocate.Archives;
using PgRelocate.Connections;

namespace PgRelocate.Restore;

/// <summary>A foreign key of the archive added NOT VALID and then validated: its entry, its table and its name as pg_dump wrote them.</summary>
internal sealed record ValidatedForeignKey(ArchiveEntry Entry, string Table, string Name, string Referenced)
{
    /// <summary>pg_dump's statement with NOT VALID: the constraint is made without reading a row.</summary>
    public string AddNotValid => Entry.Definition.Trim().TrimEnd(';').TrimEnd() + " NOT VALID;";

    public string Validate => $"ALTER TABLE ONLY {Table} VALIDATE CONSTRAINT {Name};";

    /// <summary>The constraint dropped again, after its check failed.</summary>
    public string Drop => $"ALTER TABLE ONLY {Table} DROP CONSTRAINT IF EXISTS {Name}";

    /// <summary>The referencing table's schema and name, unquoted (pg_dump quotes a part only where it must).</summary>
    public (string Schema, string Name) TableName => ArchiveToc.Unqualify(Table);

    /// <summary>The referenced table's schema and name, unquoted.</summary>
    public (string Schema, string Name) ReferencedName => ArchiveToc.Unqualify(Referenced);
}

/// <summary>
/// The foreign keys at the end of a copy or a scheduled restore, made as <c>ADD CONSTRAINT … NOT VALID</c> in one session
/// (no row read) and then validated on several sessions, instead of pg_dump's <c>ADD CONSTRAINT</c> by pg_restore.
/// Both read every referencing row against the referenced keys in the same way, but they lock differently: adding a
/// foreign key locks both its tables against every other foreign key of either (SHARE ROW EXCLUSIVE), so the checks of
/// all the tables that reference one table ran one after another whatever the jobs; validating locks only the
/// referencing table against the others (SHARE UPDATE EXCLUSIVE, the referenced one ROW SHARE), so only one table's own
/// checks wait for each other. Measured on two cores, four tables of 2 M rows referencing one of 1 M: 4.1 to 4.2 s on
/// two sessions added, 2.2 s validated. The constraints end as pg_dump's would (validated). A foreign key added on a
/// partitioned table (which cannot be NOT VALID before PostgreSQL 18) or to one (made of one foreign key to each
/// partition, which VALIDATE leaves NOT VALID in PostgreSQL 15), one already NOT VALID, and one whose statement is
/// not pg_dump's plain form stay with pg_restore; so does one that fails here, which is dropped and handed back, so that
/// pg_restore's run of it reports its error as any other.
/// </summary>
internal static partial class ForeignKeyValidation
{
    /// <summary>The checks' maintenance_work_mem (a foreign key's check takes it as its work_mem) where the caller has none of its own: the copy's default.</summary>
    public const string DefaultMemory = "256MB";

    /// <summary>The foreign key <paramref name="entry"/> makes, where it is added NOT VALID and validated here; null: it stays with pg_restore.</summary>
    public static ValidatedForeignKey? Plan(ArchiveEntry entry)
    {
        if (entry.Kind != ArchiveToc.ForeignKey)
        {
            return null;
        }

        var sql = entry.Definition.Trim();
        var m = PlainForeignKey().Match(sql);
        return m.Success && !sql.TrimEnd(';').TrimEnd().EndsWith(" NOT VALID", StringComparison.Ordinal)
            ? new ValidatedForeignKey(entry, m.Groups["table"].Value, m.Groups["name"].Value, m.Groups["referenced"].Value)
            : null;
    }

    /// <summary>
    /// <paramref name="entries"/> (a post-data selection, in archive order) in three: those pg_restore runs first, the
    /// foreign keys made here (<see cref="Plan"/>), and those that need one of them (a comment on a foreign key), which
    /// pg_restore runs after them.
    /// </summary>
    public static (IReadOnlyList<ArchiveEntry> Before, IReadOnlyList<ValidatedForeignKey> Keys, IReadOnlyList<ArchiveEntry> After) Split(IReadOnlyList<ArchiveEntry> entries) =>
        SplitOut(entries, [.. entries.Select(Plan).OfType<ValidatedForeignKey>()]);

    /// <summary>
    /// As <see cref="Split"/>, for a restore by pg_restore's parallel mode, which runs each foreign key as soon as its
    /// tables are in, beside the rest: only the foreign keys to a table that two or more tables reference are made
    /// here. pg_restore adds those one after another (each locks the referenced table against the others), at the end
    /// of its run when the referencing tables are large; one foreign key of its referenced table alone would only lose
    /// running beside the rest (pgbench's one, 0.5 to 1.3 s of a 23 s restore on two cores).
    /// </summary>
    public static (IReadOnlyList<ArchiveEntry> Before, IReadOnlyList<ValidatedForeignKey> Keys, IReadOnlyList<ArchiveEntry> After) SplitShared(IReadOnlyList<ArchiveEntry> entries) =>
        SplitOut(entries, [.. entries.Select(Plan).OfType<ValidatedForeignKey>()
            .GroupBy(k => k.Referenced, StringComparer.Ordinal)
            .Where(g => g.Select(k => k.Table).Distinct(StringComparer.Ordinal).Count() > 1)
            .SelectMany(g => g)
            .OrderBy(k => k.Entry.Id)]);

    private static (IReadOnlyList<ArchiveEntry> Before, IReadOnlyList<ValidatedForeignKey> Keys, IReadOnlyList<ArchiveEntry> After) SplitOut(IReadOnlyList<ArchiveEntry> entries, List<ValidatedForeignKey> keys)
    {
        var waiting = keys.Select(k => k.Entry.Id).ToHashSet();
        var after = new HashSet<int>();
        for (var grew = keys.Count > 0; grew;)
        {
            grew = false;
            foreach (var entry in entries.Where(e => !waiting.Contains(e.Id) && !after.Contains(e.Id)))
            {
                if (entry.Dependencies.Any(d => waiting.Contains(d) || after.Contains(d)))
                {
                    grew = after.Add(entry.Id);
                }
            }
        }

        return ([.. entries.Where(e => !waiting.Contains(e.Id) && !after.Contains(e.Id))], keys, [.. entries.Where(e => after.Contains(e.Id))]);
    }

    /// <summary>
    /// Adds <paramref name="keys"/> NOT VALID (those the target already has, as after an interrupted copy, are only
    /// validated), then validates them on <paramref name="jobs"/> sessions from <paramref name="open"/>: one table's one
    /// after another, the largest tables first, their checks with <paramref name="memory"/> of maintenance_work_mem.
    /// Returns what pg_restore runs next, in archive order: the entries that failed here (their constraints dropped
    /// again) and those <paramref name="after"/> them.
    /// </summary>
    public static async Task<IReadOnlyList<ArchiveEntry>> RunAsync(IReadOnlyList<ValidatedForeignKey> keys, IReadOnlyList<ArchiveEntry> after, int jobs, string memory, Func<CancellationToken, Task<NpgsqlConnection>> open, Action<string> log, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return after;
        }

        var failed = new List<ArchiveEntry>();
        var added = new List<ValidatedForeignKey>();
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var conn = await OpenAsync(open, memory, cancellationToken))
        {
            // A foreign key to a partitioned table is made of one to each partition, which VALIDATE leaves NOT VALID (PostgreSQL 15).
            var partitioned = await PartitionedAsync(conn, keys, cancellationToken);
            var existing = (await Db.ListAsync(conn, "SELECT c.conrelid::pg_catalog.regclass::text || ' ' || pg_catalog.quote_ident(c.conname) FROM pg_catalog.pg_constraint c WHERE c.contype = 'f'", r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var started = Stopwatch.GetTimestamp();
            foreach (var key in keys)
            {
                if (partitioned.Contains(key.Referenced))
                {
                    log($"# [foreign keys] {key.Table} {key.Name} references a partitioned table: left to pg_restore");
                    failed.Add(key.Entry);
                }
                else if (existing.Contains(key.Table + " " + key.Name) || await TryAsync(conn, key.AddNotValid, log, cancellationToken))
                {
                    added.Add(key);
                }
                else
                {
                    failed.Add(key.Entry);
                }
            }

            log(string.Create(CultureInfo.InvariantCulture, $"# [foreign keys] {added.Count} added NOT VALID in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0}s; validating on {Math.Max(1, jobs)} sessions"));
            await using var cmd = new NpgsqlCommand("SELECT t, pg_catalog.pg_total_relation_size(t::pg_catalog.regclass) FROM pg_catalog.unnest(@tables) t", conn);
            cmd.Parameters.AddWithValue("tables", added.Select(k => k.Table).Distinct().ToArray());
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                sizes[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        // One table's validations wait for each other on the target: they go together, on one session.
        var queue = new Queue<IGrouping<string, ValidatedForeignKey>>(added.GroupBy(k => k.Table, StringComparer.Ordinal).OrderByDescending(g => sizes.GetValueOrDefault(g.Key)));
        var invalid = new System.Collections.Concurrent.ConcurrentBag<ValidatedForeignKey>();
        await Task.WhenAll(Enumerable.Range(0, Math.Min(Math.Max(1, jobs), queue.Count)).Select(async _ =>
        {
            await using var conn = await OpenAsync(open, memory, cancellationToken);
            while (true)
            {
                IGrouping<string, ValidatedForeignKey> table;
                lock (queue)
                {
                    if (!queue.TryDequeue(out table!))
                    {
                        return;
                    }
                }

                foreach (var key in table)
                {
                    if (!await TryAsync(conn, key.Validate, log, cancellationToken))
                    {
                        invalid.Add(key);
                    }
                }
            }
        }));

        if (!invalid.IsEmpty)
        {
            await using var conn = await OpenAsync(open, memory, cancellationToken);
            foreach (var key in invalid.OrderBy(k => k.Entry.Id))
            {
                await Db.ExecuteAsync(conn, key.Drop, cancellationToken);
                failed.Add(key.Entry);
            }
        }

        return [.. failed.Concat(after).OrderBy(e => e.Id)];
    }

    /// <summary>
    /// Adds <paramref name="key"/> NOT VALID, one addition at a time among those that hold <paramref name="adding"/>,
    /// then validates it on <paramref name="conn"/> (set up as <see cref="OpenAsync"/> sets a session up); false, the
    /// constraint dropped again and the error logged, where the server refuses either: its caller's last step runs it again.
    /// </summary>
    public static async Task<bool> TryAddAndValidateAsync(NpgsqlConnection conn, ValidatedForeignKey key, SemaphoreSlim adding, Action<string> log, CancellationToken cancellationToken)
    {
        await adding.WaitAsync(cancellationToken);
        try
        {
            if (!await TryAsync(conn, key.AddNotValid, log, cancellationToken))
            {
                return false;
            }
        }
        finally
        {
            adding.Release();
        }

        if (await TryAsync(conn, key.Validate, log, cancellationToken))
        {
            return true;
        }

        await Db.ExecuteAsync(conn, key.Drop, cancellationToken);
        return false;
    }

    /// <summary>The tables of those <paramref name="keys"/> reference that are partitioned, as pg_dump names them.</summary>
    private static async Task<HashSet<string>> PartitionedAsync(NpgsqlConnection conn, IReadOnlyList<ValidatedForeignKey> keys, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT t FROM pg_catalog.unnest(@tables) t JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t) WHERE c.relkind = 'p'", conn);
        cmd.Parameters.AddWithValue("tables", keys.Select(k => k.Referenced).Distinct().ToArray());
        var found = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(reader.GetString(0));
        }

        return found;
    }

    /// <summary>Runs a statement, logged with its time; false (and the error logged) where the server refuses it.</summary>
    private static async Task<bool> TryAsync(NpgsqlConnection conn, string sql, Action<string> log, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await Db.ExecuteAsync(conn, sql, cancellationToken);
            log(string.Create(CultureInfo.InvariantCulture, $"# [foreign keys] {Stopwatch.GetElapsedTime(started).TotalSeconds:0.00}s {OneLine(sql)}"));
            return true;
        }
        catch (PostgresException e)
        {
            log($"# [foreign keys] {e.SqlState}: {e.MessageText} ({OneLine(sql)}); left to pg_restore");
            return false;
        }
    }

    /// <summary>A session as pg_restore's: pg_dump's empty search_path (its statements name every object), no timeouts; the checks' memory.</summary>
    private static async Task<NpgsqlConnection> OpenAsync(Func<CancellationToken, Task<NpgsqlConnection>> open, string memory, CancellationToken cancellationToken)
    {
        var conn = await open(cancellationToken);
        await Db.ExecuteAsync(conn, $"SELECT pg_catalog.set_config('search_path', '', false); SET statement_timeout = 0; SET lock_timeout = 0; SET maintenance_work_mem = {Db.Literal(memory)}", cancellationToken);
        return conn;
    }

    private static string OneLine(string sql) => Spaces().Replace(sql.Trim(), " ");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    private const string Name = @"""(?:[^""]|"""")+""|[^\s"".;]+";

    [GeneratedRegex(@"^ALTER TABLE ONLY (?<table>(?:" + Name + @")\.(?:" + Name + @"))\s+ADD CONSTRAINT (?<name>" + Name + @") FOREIGN KEY \(.*?\) REFERENCES (?<referenced>(?:" + Name + @")\.(?:" + Name + @"))\(.*;$", RegexOptions.Singleline)]
    private static partial Regex PlainForeignKey();
}

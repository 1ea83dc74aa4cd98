using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Verify;

/// <summary>Reads the user objects of both sides and lists those that differ, by kind and name.</summary>
internal static class SchemaComparer
{
    private static readonly Lazy<string> SnapshotSql = new(() => CatalogSql.Load("Verify/SchemaSnapshot.sql"));
    private static readonly Lazy<string> SequenceSql = new(() => CatalogSql.Load("Verify/SequenceValues.sql"));

    /// <summary>The kinds counted in the summary, in display order (columns are compared but not counted).</summary>
    public static readonly string[] CountedKinds =
    [
        "schema", "table", "view", "materialized view", "sequence", "index", "constraint", "function", "trigger", "extension",
    ];

    /// <param name="Notes">For what a provider installs (an extension, an extension's schema), the note shown when the target alone has it.</param>
    public sealed record Snapshot(
        Dictionary<(string Kind, string Name), string> Objects,
        Dictionary<(string Kind, string Name), string> Notes,
        Dictionary<string, SequenceValue> Sequences,
        Dictionary<long, LargeObjectFacts> LargeObjects)
    {
        /// <summary>The server's major version: a view's text is compared only between servers of one version.</summary>
        public int ServerMajor { get; init; }
    }

    public sealed record SequenceValue(long Increment, long Next, bool Readable);

    /// <param name="conn">A session of <paramref name="side"/> (in its transaction) that reads the catalog.</param>
    public static async Task<Snapshot> ReadAsync(NpgsqlConnection conn, Sessions side, CancellationToken cancellationToken)
    {
        var objects = new Dictionary<(string, string), string>();
        var notes = new Dictionary<(string, string), string>();
        await using (var cmd = new NpgsqlCommand(SnapshotSql.Value, conn))
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.GetString(0), reader.GetString(1));
                objects[key] = reader.IsDBNull(2) ? "" : reader.GetString(2);
                if (!reader.IsDBNull(3))
                {
                    notes[key] = reader.GetString(3);
                }
            }
        }

        return new Snapshot(objects, notes, await SequencesAsync(conn, side, cancellationToken), await LargeObjects.ReadAsync(conn, cancellationToken))
        {
            ServerMajor = conn.PostgreSqlVersion.Major,
        };
    }

    /// <summary>
    /// Each user sequence's next value. Reading a sequence locks it until the end of the top transaction (a
    /// savepoint does not let go of it), and thousands of them would fill a small lock table
    /// (max_locks_per_transaction 64 on a managed plan): the sequences <paramref name="conn"/>'s catalog lists are
    /// read a batch at a time, each batch in a transaction of its own on another session of <paramref name="side"/>.
    /// </summary>
    private static async Task<Dictionary<string, SequenceValue>> SequencesAsync(NpgsqlConnection conn, Sessions side, CancellationToken cancellationToken)
    {
        var sequences = new Dictionary<string, SequenceValue>(StringComparer.Ordinal);
        var oids = await Db.ListAsync(conn, CatalogSql.Expand("SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relkind = 'S' AND c.oid IN ({{user_relations}})"), r => r.GetFieldValue<uint>(0), cancellationToken);
        if (oids.Count == 0)
        {
            return sequences;
        }

        var batch = (int)Math.Clamp((await LockTable.ReadAsync(conn, cancellationToken)).Budget / 2, 16, 1000);
        foreach (var chunk in oids.Chunk(batch))
        {
            await using var lease = await side.RentAsync(cancellationToken);
            await using var cmd = new NpgsqlCommand(SequenceSql.Value, lease.Connection);
            cmd.Parameters.Add(new NpgsqlParameter { Value = chunk, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid });
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                sequences[reader.GetString(0)] = new SequenceValue(reader.GetInt64(1), reader.GetInt64(2), reader.GetBoolean(3));
            }
        }

        return sequences;
    }

    /// <summary>
    /// What the target alone has and a provider installs (an extension, a schema of extensions only): not a
    /// difference, since a restore neither makes nor may drop it; listed so that the user sees it was seen.
    /// </summary>
    public static List<SchemaNote> ProviderObjects(Snapshot source, Snapshot target) =>
    [
        .. target.Notes
            .Where(n => !source.Objects.ContainsKey(n.Key))
            .OrderBy(n => n.Key.Kind, StringComparer.Ordinal).ThenBy(n => n.Key.Name, StringComparer.Ordinal)
            .Select(n => new SchemaNote(n.Key.Kind, n.Key.Name, n.Value)),
    ];

    public static List<SchemaDifference> Compare(Snapshot source, Snapshot target)
    {
        var differences = new List<SchemaDifference>();
        foreach (var (key, definition) in source.Objects)
        {
            if (!target.Objects.TryGetValue(key, out var other))
            {
                differences.Add(new SchemaDifference(key.Kind, key.Name, DifferenceKind.MissingOnTarget, definition.Length > 0 ? definition : null));
            }
            else if (!string.Equals(definition, other, StringComparison.Ordinal) && !PrintedByVersion(key.Kind, source, target))
            {
                differences.Add(new SchemaDifference(key.Kind, key.Name, DifferenceKind.Different, definition, other));
            }
        }

        foreach (var (key, definition) in target.Objects)
        {
            if (!source.Objects.ContainsKey(key) && !target.Notes.ContainsKey(key))
            {
                differences.Add(new SchemaDifference(key.Kind, key.Name, DifferenceKind.ExtraOnTarget, null, definition.Length > 0 ? definition : null));
            }
        }

        CompareSequenceValues(source, target, differences);
        LargeObjects.Compare(source.LargeObjects, target.LargeObjects, differences);
        return [.. differences.OrderBy(d => d.Kind, StringComparer.Ordinal).ThenBy(d => d.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// A view's text is the server's own rendering of its query, which changes between major versions (PostgreSQL
    /// 18 leaves out qualifiers 15 prints): between versions a view is compared by its columns only.
    /// </summary>
    private static bool PrintedByVersion(string kind, Snapshot source, Snapshot target) =>
        kind is "view" or "materialized view" && source.ServerMajor != target.ServerMajor;

    public static List<ObjectCount> Count(Snapshot source, Snapshot target)
    {
        // The provider's objects are not counted on the target: the counts compare what the user moved.
        var targetKeys = target.Objects.Keys.Where(k => source.Objects.ContainsKey(k) || !target.Notes.ContainsKey(k)).ToList();
        long CountOf(IEnumerable<(string Kind, string Name)> keys, string kind) => keys.LongCount(k => string.Equals(k.Kind, kind, StringComparison.Ordinal));
        var counts = CountedKinds.Select(k => new ObjectCount(Plural(k), CountOf(source.Objects.Keys, k), CountOf(targetKeys, k))).ToList();
        counts.Add(new ObjectCount("large objects", source.LargeObjects.Count, target.LargeObjects.Count));
        return counts;
    }

    private static string Plural(string kind) => kind switch
    {
        "index" => "indexes",
        _ => kind + "s",
    };

    /// <summary>
    /// A target sequence behind its source would hand out values the source already used: a difference.
    /// A target ahead of its source is harmless (writes went on during the copy) and not reported.
    /// </summary>
    private static void CompareSequenceValues(Snapshot source, Snapshot target, List<SchemaDifference> differences)
    {
        foreach (var (name, s) in source.Sequences)
        {
            if (!target.Sequences.TryGetValue(name, out var t) || !s.Readable || !t.Readable)
            {
                continue;
            }

            var behind = s.Increment >= 0 ? t.Next < s.Next : t.Next > s.Next;
            if (behind)
            {
                differences.Add(new SchemaDifference("sequence value", name, DifferenceKind.Different, $"next value {s.Next}", $"next value {t.Next} (behind)"));
            }
        }
    }
}

using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Copy;

/// <summary>A sequence and its state as read on the source: <c>SELECT last_value, is_called</c>, as pg_dump reads it.</summary>
internal sealed record SequenceValue(string Schema, string Name, long LastValue, bool IsCalled)
{
    public string Qualified => Db.Qualified(Schema, Name);
}

/// <summary>
/// The one way a migration carries sequences, used by the copy (after its rows) and by the online cutover (once
/// the source is read-only): the user sequences (<c>Catalog/UserRelations.sql</c>: every sequence in a user
/// schema, identity and serial ones owned by a table included, none an extension makes again) are read on the
/// source with their <c>is_called</c> flag, and set on the target to the same value and flag, so a sequence never
/// used hands out its start value on both sides. Reading needs SELECT on each sequence, as pg_dump does; setting
/// needs what the target's login role has on the sequences it restored. A sequence the target lacks (created on the
/// source after the schema was copied) is not an error here: it is returned, for the caller to name.
/// </summary>
internal static class SequenceSync
{
    /// <summary>Sequences read or set in one statement: enough to keep a statement (and its locks) small, few enough round trips at a cutover.</summary>
    private const int Batch = 500;

    /// <summary>The statements, so the round trips, that reading (or setting) <paramref name="sequences"/> takes: one per <see cref="Batch"/>.</summary>
    public static int Trips(long sequences) => (int)((sequences + Batch - 1) / Batch);

    /// <summary>
    /// The user sequences by name, with the last value each has handed out where the login may read it: null where it
    /// has handed out none (is_called false) or may not be read, which <see cref="ReadAsync"/> then reads exactly. Read
    /// as verify reads them: Catalog/UserSequences.sql.
    /// </summary>
    private static readonly string SequencesSql = CatalogSql.Expand("SELECT q.nspname, q.relname, q.last_value FROM ({{user_sequences}}) q ORDER BY 1, 2");

    /// <summary>The user sequences before PostgreSQL 10 (Copy/SequenceNames.sql): every value read exactly.</summary>
    private static readonly string SequenceNamesSql = CatalogSql.Load("Copy/SequenceNames.sql");

    /// <summary>Sets each sequence the target has by schema and name; returns a row per sequence, the set value null where it has none.</summary>
    private static readonly string SetSql = CatalogSql.Load("Copy/SetSequences.sql");

    /// <summary>
    /// The user sequences' values, read in <paramref name="source"/>'s session (a snapshot's transaction is fine:
    /// sequences are not transactional, so a value read after the rows is never behind them).
    /// </summary>
    public static async Task<IReadOnlyList<SequenceValue>> ReadAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        Listed listed;
        await using (var cmd = new NpgsqlCommand(ListSql(source), source))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            listed = await ReadListAsync(r, cancellationToken);
        }

        return await CompleteAsync(source, listed, cancellationToken);
    }

    /// <summary>The user sequences as first listed: each value, or null where it is still to be read exactly (its index with its name).</summary>
    public sealed record Listed(List<SequenceValue?> Values, List<(int Index, string Schema, string Name)> Unread);

    /// <summary>The statement that lists the user sequences, for a caller that sends it beside its own (then <see cref="ReadListAsync"/>, <see cref="CompleteAsync"/>).</summary>
    public static string ListSql(NpgsqlConnection source) => source.PostgreSqlVersion.Major >= 10 ? SequencesSql : SequenceNamesSql;

    /// <summary>Reads <see cref="ListSql"/>'s rows, the reader at its result.</summary>
    public static async Task<Listed> ReadListAsync(NpgsqlDataReader r, CancellationToken cancellationToken)
    {
        var listed = new Listed([], []);
        while (await r.ReadAsync(cancellationToken))
        {
            if (r.IsDBNull(2))
            {
                listed.Unread.Add((listed.Values.Count, r.GetString(0), r.GetString(1)));
                listed.Values.Add(null);
            }
            else
            {
                listed.Values.Add(new SequenceValue(r.GetString(0), r.GetString(1), r.GetInt64(2), IsCalled: true));
            }
        }

        return listed;
    }

    /// <summary>Reads exactly the sequences the list left unread (none: no round trip) and returns every value.</summary>
    public static async Task<IReadOnlyList<SequenceValue>> CompleteAsync(NpgsqlConnection source, Listed listed, CancellationToken cancellationToken)
    {
        var (values, unread) = listed;
        // The rest exactly, as pg_dump reads a sequence: its value and is_called (set with is_called false, or never used).
        foreach (var chunk in unread.Chunk(Batch))
        {
            // One statement per chunk; the ordinal keeps each value with its name.
            var sql = string.Join(" UNION ALL ", chunk.Select((s, i) => $"SELECT {i}, last_value, is_called FROM {Db.Qualified(s.Schema, s.Name)}"));
            await using var cmd = new NpgsqlCommand(sql, source);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                var (index, schema, name) = chunk[r.GetInt32(0)];
                values[index] = new SequenceValue(schema, name, r.GetInt64(1), r.GetBoolean(2));
            }
        }

        return [.. values.Select(v => v!)];
    }

    /// <summary>
    /// Sets the target's sequences to <paramref name="values"/>, a statement (and, in a session outside a
    /// transaction, a transaction) per <see cref="Batch"/>: each setval holds a lock on its sequence to the end of
    /// its transaction, and thousands at once would fill a default lock table. Returns those it does not have (quoted names).
    /// </summary>
    public static async Task<IReadOnlyList<string>> SetAsync(NpgsqlConnection target, IReadOnlyList<SequenceValue> values, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        foreach (var chunk in values.Chunk(Batch))
        {
            await using var cmd = new NpgsqlCommand(SetSql, target);
            cmd.Parameters.AddWithValue("schemas", chunk.Select(v => v.Schema).ToArray());
            cmd.Parameters.AddWithValue("names", chunk.Select(v => v.Name).ToArray());
            cmd.Parameters.AddWithValue("values", chunk.Select(v => v.LastValue).ToArray());
            cmd.Parameters.AddWithValue("called", chunk.Select(v => v.IsCalled).ToArray());
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                if (r.IsDBNull(2))
                {
                    missing.Add(Db.Qualified(r.GetString(0), r.GetString(1)));
                }
            }
        }

        return missing;
    }

    /// <summary>Reads the source's user sequences and sets the target's; returns how many were read and which the target lacks.</summary>
    public static async Task<(int Count, IReadOnlyList<string> Missing)> SyncAsync(NpgsqlConnection source, NpgsqlConnection target, CancellationToken cancellationToken)
    {
        var values = await ReadAsync(source, cancellationToken);
        return (values.Count, await SetAsync(target, values, cancellationToken));
    }

    /// <summary>The warning naming sequences the target lacks.</summary>
    public static string MissingWarning(IReadOnlyList<string> missing) =>
        $"{Sentences.Plural(missing.Count, "Sequence")} {string.Join(", ", missing)} not set: the target has no such sequence (created on the source after its schema was copied?).";
}

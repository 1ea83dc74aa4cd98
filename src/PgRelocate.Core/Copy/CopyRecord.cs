using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>
/// What a migration's direct copy has committed on its target, in the tool's schema (<see cref="ToolSchema"/>), so
/// that <c>migrate --resume</c> goes on where a killed copy stopped. The copy itself (its migration's id, a digest of
/// the schema it copies, the source's read-only mode it began under, its phase), the page ranges its split tables
/// were cut into, and every item it finished: a table's rows or one range of them, an index, a constraint, an
/// ANALYZE. Each item is recorded in the transaction that does it, so the record and the target never disagree:
/// a range whose transaction did not commit left no rows and is copied again; one that committed is never copied twice.
/// </summary>
internal sealed class CopyRecord
{
    private const string Schema = ToolSchema.Name;

    /// <summary>The phase in which a resume can go on: the schema is restored, rows and indexes are under way.</summary>
    public const string DataPhase = "data";

    private readonly HashSet<string> _done;

    private CopyRecord(string id, string? readOnlySince, HashSet<string> done, Dictionary<string, List<(long From, long? To)>> ranges)
    {
        Id = id;
        ReadOnlySince = readOnlySince;
        _done = done;
        Ranges = ranges;
    }

    public string Id { get; }

    /// <summary>The read-only mode of the source the copy began under (see <see cref="ResumableCopy.ReadOnlySince"/>); null: none.</summary>
    public string? ReadOnlySince { get; }

    /// <summary>The items committed (see <see cref="RowsItem"/>, <see cref="IndexItem"/>).</summary>
    public IReadOnlySet<string> Done => _done;

    /// <summary>Counts <paramref name="items"/> as done: what the target holds already though the record does not say so (see <see cref="BuiltIndexes"/>).</summary>
    public void Found(IEnumerable<string> items) => _done.UnionWith(items);

    /// <summary>Each split table's page ranges (by its display name), as the copy that began cut them.</summary>
    public IReadOnlyDictionary<string, List<(long From, long? To)>> Ranges { get; }

    /// <summary>A chunk's item: "rows s.t" for a whole table, "rows s.t pages 0-512" for a range (as the copy's steps name it).</summary>
    public static string RowsItem(DataChunk chunk) => "rows " + ChunkName(chunk);

    public static string ChunkName(DataChunk chunk) => chunk.IsWholeTable
        ? chunk.Table!.Display
        : $"{chunk.Table!.Display} pages {SourceSnapshot.Number(chunk.FromPage!.Value)}-{(chunk.ToPage is { } to ? SourceSnapshot.Number(to) : "end")}";

    /// <summary>An index build, a constraint made of its index (<paramref name="kind"/> "index" or "constraint") or "analyze" of a table.</summary>
    public static string IndexItem(string kind, CopyTable table, string name = "") => $"{kind} {table.Display} {name}".TrimEnd();

    /// <summary>The statement recording <paramref name="item"/>, to run in the transaction that does it.</summary>
    public static string Mark(string item) => Mark([item]);

    /// <summary>The statement recording every one of <paramref name="items"/>, to run in the transaction that does them.</summary>
    public static string Mark(IEnumerable<string> items) => $"INSERT INTO {Schema}.copy_done (item) VALUES {string.Join(", ", items.Select(i => $"({Db.Literal(i)})"))}";

    /// <summary>Starts the record of a copy whose schema is now restored (replacing any other), in one transaction.</summary>
    public static async Task<CopyRecord> CreateAsync(NpgsqlConnection conn, string id, string digest, string? readOnlySince, CancellationToken cancellationToken)
    {
        await Db.ExecuteAsync(conn, $"""
            BEGIN;
            CREATE SCHEMA IF NOT EXISTS {Schema};
            DROP TABLE IF EXISTS {Schema}.copy_run, {Schema}.copy_ranges, {Schema}.copy_done;
            CREATE TABLE {Schema}.copy_run (copy_id text PRIMARY KEY, schema_digest text NOT NULL, read_only_since text,
                                            phase text NOT NULL, started_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE {Schema}.copy_ranges (table_name text NOT NULL, from_page bigint NOT NULL, to_page bigint, PRIMARY KEY (table_name, from_page));
            CREATE TABLE {Schema}.copy_done (item text PRIMARY KEY, done_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO {Schema}.copy_run (copy_id, schema_digest, read_only_since, phase)
            VALUES ({Db.Literal(id)}, {Db.Literal(digest)}, {(readOnlySince is null ? "NULL" : Db.Literal(readOnlySince))}, {Db.Literal(DataPhase)});
            COMMIT;
            """, cancellationToken);
        return new CopyRecord(id, readOnlySince, [], []);
    }

    /// <summary>
    /// The record of copy <paramref name="id"/> the target holds, when a resume can go on from it; otherwise null
    /// and why it cannot (no record, another copy's, a copy past its data phase, a schema that changed since).
    /// </summary>
    public static async Task<(CopyRecord? Record, string? Why)> ReadAsync(NpgsqlConnection conn, string id, string digest, CancellationToken cancellationToken)
    {
        if (await Db.ScalarAsync<string>(conn, $"SELECT to_regclass('{Schema}.copy_run')::text", cancellationToken) is null)
        {
            return (null, "the target holds no record of what the interrupted copy committed (it stopped before its rows began, or the record was removed)");
        }

        var run = await Db.ListAsync(conn, $"SELECT copy_id, schema_digest, read_only_since, phase FROM {Schema}.copy_run", r => (Id: r.GetString(0), Digest: r.GetString(1), ReadOnly: r.IsDBNull(2) ? null : r.GetString(2), Phase: r.GetString(3)), cancellationToken);
        if (run is not [var copy] || copy.Id != id)
        {
            return (null, "the target's record is of another copy");
        }

        if (copy.Phase != DataPhase)
        {
            return (null, "the copy had begun its last section (foreign keys, triggers, the rest of the schema), which cannot be taken up halfway");
        }

        if (copy.Digest != digest)
        {
            return (null, "the source's schema is not the one the interrupted copy began with");
        }

        var done = (await Db.ListAsync(conn, $"SELECT item FROM {Schema}.copy_done", r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
        var ranges = new Dictionary<string, List<(long From, long? To)>>(StringComparer.Ordinal);
        foreach (var (table, from, to) in await Db.ListAsync(conn, $"SELECT table_name, from_page, to_page FROM {Schema}.copy_ranges ORDER BY 1, 2", r => (r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? (long?)null : r.GetInt64(2)), cancellationToken))
        {
            if (!ranges.TryGetValue(table, out var list))
            {
                ranges[table] = list = [];
            }

            list.Add((from, to));
        }

        return (new CopyRecord(id, copy.ReadOnly, done, ranges), null);
    }

    /// <summary>Records the page ranges of the tables split for the first time, before any of their rows are copied.</summary>
    public async Task SaveRangesAsync(NpgsqlConnection conn, IEnumerable<DataChunk> chunks, CancellationToken cancellationToken)
    {
        var added = chunks.Where(c => c.Table is not null && !c.IsWholeTable && !Ranges.ContainsKey(c.Table.Display)).ToList();
        if (added.Count == 0)
        {
            return;
        }

        await using var cmd = new NpgsqlCommand($"INSERT INTO {Schema}.copy_ranges SELECT * FROM unnest(@tables, @from, @to)", conn);
        cmd.Parameters.AddWithValue("tables", added.Select(c => c.Table!.Display).ToArray());
        cmd.Parameters.AddWithValue("from", added.Select(c => c.FromPage!.Value).ToArray());
        cmd.Parameters.AddWithValue("to", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint, added.Select(c => (object?)c.ToPage ?? DBNull.Value).ToArray());
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Records that the data phase is over: from here on, a resume starts over.</summary>
    public static Task LastSectionAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ExecuteAsync(conn, $"UPDATE {Schema}.copy_run SET phase = 'post-data'", cancellationToken);

    /// <summary>Removes the copy's record, and the tool's schema when nothing else is in it. Safe to repeat.</summary>
    public static Task RemoveAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ExecuteAsync(conn, CatalogSql.Load("Copy/RemoveCopyRecord.sql", new Dictionary<string, string> { ["schema"] = Schema }), cancellationToken);
}

/// <summary>
/// A migration's copy, which records on the target what it commits (<see cref="CopyRecord"/>) so that a resumed
/// migration keeps it. <paramref name="ReadOnlySince"/> names the read-only mode of the source in force now (the
/// journal's start of its read-only step; null when the source is not read-only): a resume is consistent only when
/// the copy began under that same mode. <paramref name="NotConsistent"/> accepts a resume that is not.
/// <paramref name="Resumed"/>: an earlier run of this copy was interrupted, so the target may hold its record.
/// </summary>
public sealed record ResumableCopy(string Id, bool Resumed, string? ReadOnlySince, bool NotConsistent);

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Online.Apply;

/// <summary>
/// A source table as the follow creates it on the target: its description as the stream sends its rows, its
/// quoted name, the statements that create it (run only when the target lacks it) and the tables it must share
/// a lane with (its parent, the tables its foreign keys reference); when the target holds it under an earlier name
/// (<see cref="RenamedFrom"/>), the statements rename it there and nothing is copied.
/// </summary>
internal sealed record CarriedTable(SourceRelation Relation, string Qualified, IReadOnlyList<string> Statements, IReadOnlyList<string> Ties, bool HasRows, string? RenamedFrom = null);

/// <summary>
/// Carries the source's new tables and partitions to the target while following, with the rights the follow has
/// (the owner of the tables on the source, an ordinary owner on the target, no event triggers). Two ways in:
/// the stream sends a row of a table the target lacks (a new partition of a published partitioned table): the
/// table is created on the target in the lane's transaction, before that row, from the source's catalog; and
/// the watch finds a table the publication does not send or the target lacks (a new table, a detached
/// partition, a partition made ahead of its rows). Either way the table is then copied at a known place in the
/// stream's order (<see cref="CarryAsync"/>): in one source transaction that locks it against writes, adds it to
/// the publication, reads its rows into a file and writes a marker into the WAL. Every change to it committed
/// after that transaction comes in the stream after the marker, every one before it is in the file; at the
/// marker the apply empties the target's table and loads the file, in the marker's place in the commit order,
/// so its rows land exactly once whatever came before. Needs logical decoding messages: PostgreSQL 14 on.
/// </summary>
internal sealed partial class SchemaCarry : IAsyncDisposable
{
    /// <summary>The start of a marker's content that names a carried table's file.</summary>
    public const string MarkerStart = "carry:";

    private readonly CarrySession _source;
    private readonly ColumnAttributeCarry _attributes;
    private readonly string _publication;
    private readonly IReporter _reporter;
    private readonly object _lock = new();
    private readonly HashSet<string> _onTarget = new(StringComparer.Ordinal);
    private readonly HashSet<string> _carried = new(StringComparer.Ordinal);
    private readonly HashSet<string> _awaiting = new(StringComparer.Ordinal);
    private readonly List<string> _carryLog = [];
    private readonly Dictionary<string, string> _displayed = new(StringComparer.Ordinal);

    internal SchemaCarry(PgConnectionInfo source, string publication, string folder, IReporter reporter)
    {
        _source = new CarrySession(source);
        _attributes = new ColumnAttributeCarry(_source, reporter);
        _publication = publication;
        _reporter = reporter;
        Folder = Path.Combine(folder, "carried");
    }

    /// <summary>A carry for the follow, or null when the source cannot write the markers it needs (before PostgreSQL 14).</summary>
    public static async Task<SchemaCarry?> OpenAsync(PgConnectionInfo source, string publication, string folder, IReporter reporter, CancellationToken cancellationToken)
    {
        var carry = new SchemaCarry(source, publication, folder, reporter);
        if ((await carry._source.OpenAsync(cancellationToken)).PostgreSqlVersion.Major >= 14)
        {
            carry.LoadAgain();
            carry.LoadYielded();
            carry.LoadNames();
            if (!File.Exists(carry.NamesFile))
            {
                // The tables' names at the follow's first start, before any rename it must tell.
                await carry.CandidatesAsync(await carry._source.OpenAsync(cancellationToken), cancellationToken);
            }

            return carry;
        }

        await carry.DisposeAsync();
        reporter.Warn("The source is older than PostgreSQL 14: schema changes while following stop the follow (carrying them needs logical decoding messages).");
        return null;
    }

    /// <summary>Whether a marker is one of a carried table (see <see cref="Open"/>).</summary>
    public static bool IsCarry(string content) => content.StartsWith(MarkerStart, StringComparison.Ordinal);

    /// <summary>The folder of the carried tables' files, in the migration's folder.</summary>
    public string Folder { get; }

    /// <summary>Reads the tables the target has (at each follow session's start: what a rolled-back one created is gone).</summary>
    public async Task RefreshAsync(NpgsqlConnection target, CancellationToken cancellationToken)
    {
        var tables = await Db.ListAsync(target, OnlineSql.TargetTables, r => (Name: Db.Qualified(r.GetString(0), r.GetString(1)), Parent: r.IsDBNull(2) ? null : Db.Qualified(r.GetString(2), r.GetString(3))), cancellationToken);
        lock (_lock)
        {
            _onTarget.Clear();
            _onTarget.UnionWith(tables.Select(t => t.Name));
            _targetParents.Clear();
            foreach (var (name, parent) in tables)
            {
                _targetParents[name] = parent;
            }

            KnowsTarget = true;
        }
    }

    /// <summary>Reads the target's tables unless a session has: before the first one, every table would look new.</summary>
    public async Task ReadTargetOnceAsync(PgConnectionInfo target, CancellationToken cancellationToken)
    {
        if (!KnowsTarget)
        {
            await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
            await RefreshAsync(conn, cancellationToken);
        }
    }

    /// <summary>True once the target's tables have been read (<see cref="RefreshAsync"/>): until then no table is taken for new.</summary>
    public bool KnowsTarget { get; private set; }

    /// <summary>True when the target lacks the table and no apply of this session has created it.</summary>
    public bool NeedsDefinition(SourceRelation relation)
    {
        lock (_lock)
        {
            return !_onTarget.Contains(Db.Qualified(relation.Schema, relation.Name));
        }
    }

    /// <summary>
    /// The apply creates these tables, or renames them from earlier names (in a lane's transaction, before their first
    /// row; together when one marker carries them): an earlier name none of them takes is free on the target, for a
    /// new table the source gives it to later (copied then, even when the table that had the name was carried).
    /// </summary>
    public void Defined(params IReadOnlyList<SourceRelation> relations)
    {
        var taken = relations.Select(r => Db.Qualified(r.Schema, r.Name)).ToHashSet(StringComparer.Ordinal);
        lock (_lock)
        {
            _onTarget.UnionWith(taken);
            foreach (var relation in relations)
            {
                foreach (var earlier in (_names.GetValueOrDefault(relation.Id) ?? []).Select(n => Db.Qualified(n.Schema, n.Name)).Where(n => !taken.Contains(n)))
                {
                    _onTarget.Remove(earlier);
                    _carried.Remove(earlier);
                }
            }
        }
    }

    /// <summary>
    /// The definitions of a source table the target lacks, with those of its partitioned ancestors the target lacks
    /// too, the highest first; for a table the target holds under an earlier name, its rename there (to the name the
    /// stream gives it, whatever the source calls it now).
    /// </summary>
    /// <exception cref="PgRelocateException">The table is no longer on the source: what to run on the target is said.</exception>
    public async Task<IReadOnlyList<CarriedTable>> DefineAsync(SourceRelation relation, CancellationToken cancellationToken)
    {
        var qualified = Db.Qualified(relation.Schema, relation.Name);
        if (RenamedFrom(relation.Id, qualified) is not null)
        {
            return [Renaming(new CarriedTable(relation, qualified, [], [], HasRows: true))];
        }

        using (await _source.TurnAsync(cancellationToken))
        {
            var session = await _source.OpenAsync(cancellationToken);
            var chain = await ChainAsync(session, qualified, cancellationToken);
            if (chain.Count == 0)
            {
                throw CannotCarry(qualified, "it is no longer on the source, so its definition cannot be read");
            }

            return chain;
        }
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();

    /// <summary>As <see cref="ColumnAttributeCarry.AttributesAsync(PgConnectionInfo, bool, CancellationToken)"/>.</summary>
    public Task AttributesAsync(PgConnectionInfo target, bool exact, CancellationToken cancellationToken) =>
        _attributes.AttributesAsync(target, exact, cancellationToken);

    /// <summary>As <see cref="ColumnAttributeCarry.AttributesAsync(NpgsqlConnection, IReadOnlyList{string}?, bool, CancellationToken)"/>.</summary>
    public Task AttributesAsync(NpgsqlConnection target, IReadOnlyList<string>? tables, bool exact, CancellationToken cancellationToken) =>
        _attributes.AttributesAsync(target, tables, exact, cancellationToken);

    /// <summary>What cannot be carried, named with what to do: one sentence for the follow's stop or its wait.</summary>
    internal static PgRelocateException CannotCarry(string table, string why) =>
        new($"The follow cannot carry table {table} to the target: {why}. Create it on the target as it is on the source (or drop it on the source), then resume with 'pgrelocate migrate --resume ID'; '--on-schema-change stop' stops at the first schema change instead.", ExitCode.Failed);

    private bool OnTarget(string qualified)
    {
        lock (_lock)
        {
            return _onTarget.Contains(qualified);
        }
    }

    /// <summary>The table's definition, description and ties, read from the catalog of <paramref name="session"/> (its search_path empty: every name qualified): the source's for the follow, the target's for the way back.</summary>
    internal static async Task<CarriedTable> DescribeAsync(NpgsqlConnection session, uint oid, CancellationToken cancellationToken)
    {
        var (schema, name, rows) = await Db.ListAsync(
            session,
            $"SELECT n.nspname::text, c.relname::text, c.relkind = 'r' FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {oid}",
            r => (r.GetString(0), r.GetString(1), r.GetBoolean(2)),
            cancellationToken) is [var one] ? one : throw CannotCarry(oid.ToString(System.Globalization.CultureInfo.InvariantCulture), "it is no longer on the source");
        // Its schema first: one made on the source while following is not on the target yet.
        List<string> statements = [SchemaStatement(schema), .. await ByOidAsync(session, OnlineSql.CarriedTable, oid, r => r.GetString(2), cancellationToken)];
        var columns = await ByOidAsync(session, OnlineSql.CarriedRelation, oid, r => (Name: r.GetString(0), Type: r.GetFieldValue<uint>(1), Modifier: r.GetInt32(2), Key: r.GetBoolean(3)), cancellationToken);
        var ties = await ByOidAsync(session, OnlineSql.CarriedTies, oid, r => Db.Qualified(r.GetString(0), r.GetString(1)), cancellationToken);
        var relation = new SourceRelation(oid, schema, name, [.. columns.Select(c => c.Name)], [.. columns.Select(c => c.Key)], [.. columns.Select(c => c.Type)], [.. columns.Select(c => c.Modifier)]);
        return new CarriedTable(relation, Db.Qualified(schema, name), statements, ties, rows);
    }

    private static async Task<List<T>> ByOidAsync<T>(NpgsqlConnection session, string sql, uint oid, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, session);
        cmd.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, oid);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await r.ReadAsync(cancellationToken))
        {
            rows.Add(map(r));
        }

        return rows;
    }
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Online.Apply;

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
internal sealed class SchemaCarry : IAsyncDisposable
{
    /// <summary>The start of a marker's content that names a carried table's file.</summary>
    public const string MarkerStart = "carry:";

    private readonly CarrySession _source;
    private readonly string _publication;
    private readonly IReporter _reporter;
    private readonly CarriedNames _names;
    private readonly CopyAgainTables _again;
    private readonly YieldedTables _yielded;
    private readonly TargetParents _targetParents = new();
    private readonly object _lock = new();
    private readonly HashSet<string> _onTarget = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTime> _warned = new(StringComparer.Ordinal);
    private IReadOnlyList<string> _blocked = [];

    internal SchemaCarry(PgConnectionInfo source, string publication, string folder, IReporter reporter, string? applicationName = null)
    {
        _source = new CarrySession(source, applicationName);
        Attributes = new ColumnAttributeCarry(_source, reporter);
        Columns = new ColumnChangeCarry(_source, reporter);
        _publication = publication;
        _reporter = reporter;
        Folder = Path.Combine(folder, FolderName);
        _names = new CarriedNames(Folder);
        _again = new CopyAgainTables(Folder);
        _yielded = new YieldedTables(Folder);
    }

    internal const string FolderName = "carried"; // in the migration's folder

    /// <summary>A carry for the follow, or null when the source cannot write the markers it needs (before PostgreSQL 14).</summary>
    /// <param name="applicationName">What its session on the source is called (see <see cref="CarrySession"/>).</param>
    public static async Task<SchemaCarry?> OpenAsync(PgConnectionInfo source, string publication, string folder, IReporter reporter, CancellationToken cancellationToken, string? applicationName = null)
    {
        var carry = new SchemaCarry(source, publication, folder, reporter, applicationName);
        if ((await carry._source.OpenAsync(cancellationToken)).PostgreSqlVersion.Major >= 14)
        {
            carry._again.Load();
            // The tables the snapshot copy gave up whose copy is not applied yet: left out until it is, copied again.
            var yielded = carry._yielded.Load();
            carry.Copies.Await(yielded);
            carry._again.Add(yielded);
            carry._names.Load();
            if (!carry._names.Saved)
            {
                // The tables' names at the follow's first start, unless the snapshot copy noted them (CarriedNames.NoteAtCopyAsync).
                await carry._names.CandidatesAsync(await carry._source.OpenAsync(cancellationToken), publication, cancellationToken);
            }

            return carry;
        }

        await carry.DisposeAsync();
        reporter.Warn("The source is older than PostgreSQL 14: schema changes while following stop the follow (carrying them needs logical decoding messages).");
        return null;
    }

    /// <summary>Whether a marker is one of a carried table (see <see cref="Open"/>).</summary>
    public static bool IsCarry(string content) => content.StartsWith(MarkerStart, StringComparison.Ordinal);

    /// <summary>What pgoutput's description of a table does not show (a default, NOT NULL, a generated column), compared and carried.</summary>
    public ColumnAttributeCarry Attributes { get; }

    /// <summary>The column changes the stream's descriptions show, carried in the apply's transaction.</summary>
    public ColumnChangeCarry Columns { get; }

    /// <summary>The copies taken at markers: which wait for theirs, which were taken since a mark.</summary>
    public CarriedCopies Copies { get; } = new();

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
            _targetParents.Reset(tables);
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
                foreach (var earlier in (_names.Of(relation.Id) ?? []).Select(n => Db.Qualified(n.Schema, n.Name)).Where(n => !taken.Contains(n)))
                {
                    _onTarget.Remove(earlier);
                    Copies.Forget(earlier);
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

    /// <summary>Copies the table again at a marker at the next look (kept in the migration's folder until its copy is taken: a kill in between does not lose it).</summary>
    public void CopyAgain(IReadOnlyList<string> tables) => _again.Add(tables);

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

    /// <summary>The tables the last look could not carry (named in its warning): the follow goes on while they wait.</summary>
    public IReadOnlyList<string> Blocked => Volatile.Read(ref _blocked);

    /// <summary>
    /// The watch's look: the source's tables the publication does not send (a new table, a detached partition) or
    /// the target lacks (a partition made ahead of its rows), copied together at one marker. One that cannot be
    /// carried now (its owner is another role, it is locked) is named in a warning and tried again at the next look.
    /// </summary>
    public async Task LookAsync(CancellationToken cancellationToken)
    {
        List<(uint Oid, string Qualified, uint Parent, bool HasRows, bool Published)> candidates;
        using (await _source.TurnAsync(cancellationToken))
        {
            candidates = await _names.CandidatesAsync(await _source.OpenAsync(cancellationToken), _publication, cancellationToken);
        }

        var names = candidates.ToDictionary(c => c.Oid, c => c.Qualified);
        var relink = candidates.Where(c => KnowsTarget && OnTarget(c.Qualified) && _targetParents.Differs(c.Qualified, names.GetValueOrDefault(c.Parent))).Select(c => c.Qualified).ToHashSet(StringComparer.Ordinal);
        var need = candidates.Where(c => (c.HasRows && !c.Published && !Copies.Carried(c.Qualified)) || (KnowsTarget && !OnTarget(c.Qualified) && !Copies.Carried(c.Qualified)) || _again.Contains(c.Qualified)
                                         || relink.Contains(c.Qualified)).Select(c => c.Qualified).ToList();
        if (need.Count == 0)
        {
            Volatile.Write(ref _blocked, []);
            return;
        }

        try
        {
            await CarryAsync(need, cancellationToken, relink);
            Volatile.Write(ref _blocked, []);
        }
        catch (PostgresException e) when (!cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref _blocked, need);
            var key = string.Join(", ", need);
            if (!_warned.TryGetValue(key, out var last) || DateTime.UtcNow - last > TimeSpan.FromMinutes(1))
            {
                _warned[key] = DateTime.UtcNow;
                _reporter.Warn($"Waiting to carry {key} to the target: {e.MessageText}. The follow goes on and tries again every few seconds (the table's owner must be the migration's login role, or a role it is a member of).");
            }
        }
    }

    /// <summary>
    /// Copies these tables (quoted names) at one place in the stream's order: in one source transaction, locked
    /// against writes first (SHARE, before the transaction's snapshot is taken), added to the publication when it
    /// does not send them, their definitions and rows written to a file (synced), then a marker naming the file,
    /// then the commit. A table already carried, or no longer on the source, is left out, unless the look found it
    /// attached elsewhere on the target (<paramref name="relink"/>: one the follow made, then attached or detached on the source).
    /// </summary>
    public async Task CarryAsync(IReadOnlyList<string> tables, CancellationToken cancellationToken, IReadOnlySet<string>? relink = null)
    {
        using (await _source.TurnAsync(cancellationToken))
        {
            var session = await _source.OpenAsync(cancellationToken);
            var names = new List<string>();
            foreach (var t in tables.Where(t => !Copies.Carried(t) || _again.Contains(t) || relink?.Contains(t) == true).Distinct(StringComparer.Ordinal))
            {
                if (await Db.ScalarAsync<bool>(session, $"SELECT pg_catalog.to_regclass({Db.Literal(t)}) IS NOT NULL", cancellationToken))
                {
                    names.Add(t);
                }
            }

            if (names.Count == 0)
            {
                return;
            }

            var id = Guid.NewGuid().ToString("N");
            List<string> renamed, copied, moved = [], kept = [];
            List<(string, string?)> parents = [];
            Directory.CreateDirectory(Folder);
            var path = Path.Combine(Folder, id);
            var defined = new List<CarriedTable>();
            await Db.ExecuteAsync(session, "BEGIN ISOLATION LEVEL REPEATABLE READ READ WRITE", cancellationToken);
            try
            {
                await Db.ExecuteAsync(session, "SET LOCAL lock_timeout = '5s'", cancellationToken);
                await Db.ExecuteAsync(session, $"LOCK TABLE {string.Join(", ", names)} IN SHARE MODE", cancellationToken);
                foreach (var t in names)
                {
                    foreach (var table in await ChainAsync(session, t, cancellationToken))
                    {
                        if (!defined.Any(d => d.Qualified == table.Qualified))
                        {
                            defined.Add(table);
                        }
                    }

                    var published = await PublishedAsync(session, t, cancellationToken);
                    if (defined.First(d => d.Qualified == t) is { HasRows: true, RenamedFrom: null } && !published)
                    {
                        await Db.ExecuteAsync(session, $"ALTER PUBLICATION {Db.Ident(_publication)} ADD TABLE ONLY {t}", cancellationToken);
                    }

                    if (defined.First(d => d.Qualified == t) is { RenamedFrom: null } here && OnTarget(t) && await _targetParents.RelinkingAsync(session, here, cancellationToken) is { } relinked)
                    {
                        // Attached or detached on the target at the marker's place; copied only when the stream did not send its changes (a detached partition until now).
                        defined[defined.FindIndex(d => d.Qualified == t)] = relinked.Table;
                        moved.Add(relinked.Description);
                        parents.Add((t, relinked.Parent));
                        if (published)
                        {
                            kept.Add(t);
                        }
                    }
                }

                // The parents of the tables the marker makes or renames, before those it attaches or detaches.
                parents.InsertRange(0, await _targetParents.MadeAsync(session, defined, cancellationToken));
                // A table the target holds under an earlier name is renamed there, its rows kept.
                renamed = [.. defined.Where(d => d.RenamedFrom is not null && names.Contains(d.Qualified)).Select(d => $"{d.RenamedFrom} renamed {d.Qualified}")];
                copied = [.. names.Where(t => defined.First(d => d.Qualified == t).RenamedFrom is null && !kept.Contains(t))];
                await CarriedFile.WriteAsync(session, path, CarriedFile.Ordered(defined), copied, cancellationToken);
                await Db.ExecuteAsync(session, $"SELECT pg_catalog.pg_logical_emit_message(true, {Db.Literal(OnlineNames.MarkerPrefix)}, {Db.Literal(MarkerStart + id)})", cancellationToken);
                await Db.ExecuteAsync(session, "COMMIT", cancellationToken);
            }
            catch
            {
                File.Delete(path);
                if (session.State == System.Data.ConnectionState.Open)
                {
                    await Db.ExecuteAsync(session, "ROLLBACK", CancellationToken.None);
                }

                throw;
            }

            Copies.Record(names, copied, defined);
            _targetParents.Relinked(parents);
            _again.Taken(names);

            if (copied.Count > 0)
            {
                _reporter.Info($"Carrying {string.Join(", ", copied)} to the target: copied at a place in the source's order, applied there.");
            }

            if (moved.Count > 0)
            {
                _reporter.Info($"Carrying a partition's change to the target: {string.Join(", ", moved)}, at its place in the source's order.");
            }

            if (renamed.Count > 0)
            {
                _reporter.Info($"Carrying a rename to the target: {string.Join(", ", renamed)}, at its place in the source's order (its rows kept).");
            }
        }
    }

    /// <summary>The carried tables a marker names, and their rows, read from its file.</summary>
    /// <exception cref="Errors.PgRelocateException">The file is gone (removed by hand): the table cannot be loaded at its place.</exception>
    public CarriedFile Open(string content)
    {
        var path = Path.Combine(Folder, content[MarkerStart.Length..]);
        if (!File.Exists(path))
        {
            throw new Errors.PgRelocateException($"The follow meets a table carried at a marker whose file {path} is gone: cancel this migration and start a new one.");
        }

        return new CarriedFile(path);
    }

    /// <summary>The copies of these tables are committed on the target at their markers: those the snapshot copy gave up are whole again.</summary>
    public void Loaded(IEnumerable<string> tables)
    {
        Copies.Loaded(tables);
        _yielded.Unyield(tables);
    }

    /// <summary>A table with those of its partitioned ancestors the target lacks, the highest first.</summary>
    private async Task<List<CarriedTable>> ChainAsync(NpgsqlConnection session, string qualified, CancellationToken cancellationToken)
    {
        var chain = new List<CarriedTable>();
        for (var next = await Db.ScalarAsync<uint?>(session, $"SELECT pg_catalog.to_regclass({Db.Literal(qualified)})::oid", cancellationToken); next is { } at;)
        {
            var table = Renaming(await CarriedTable.DescribeAsync(session, at, cancellationToken));
            chain.Insert(0, table);
            var parent = await Db.ScalarAsync<uint?>(session, $"SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid WHERE i.inhrelid = {at} AND c.relispartition AND NOT i.inhdetachpending", cancellationToken);
            next = parent is { } p && !OnTarget(await Db.ScalarAsync<string>(session, $"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {p}", cancellationToken) ?? "") ? p : null;
        }

        return chain;
    }

    private async Task<bool> PublishedAsync(NpgsqlConnection session, string qualified, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<bool>(session, $"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables p JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass({Db.Literal(qualified)}) JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = {Db.Literal(_publication)} AND p.schemaname = n.nspname AND p.tablename = c.relname)", cancellationToken);

    /// <summary>
    /// The table's definition when the target holds it under an earlier name: the statements that rename it there
    /// (<c>SET SCHEMA</c>, then <c>RENAME TO</c>), nothing copied; the table as described otherwise.
    /// </summary>
    private CarriedTable Renaming(CarriedTable table)
    {
        var relation = table.Relation;
        if (_names.Note(relation.Id, relation.Schema, relation.Name))
        {
            _names.Save();
        }

        return RenamedFrom(relation.Id, table.Qualified) is { } from ? CarriedNames.Renamed(table, from) : table;
    }

    /// <summary>
    /// A rename a marker carries, from the name the target holds when the marker is applied: the look wrote it from
    /// the name the target held then, and the stream may have renamed the table since (a rename made on the source
    /// while the follow was stopped, whose changes the resumed stream sends after the look).
    /// </summary>
    public CarriedTable RenamedAsNow(CarriedTable table) =>
        table.RenamedFrom is not null && RenamedFrom(table.Relation.Id, table.Qualified) is { } from && Db.Qualified(from.Schema, from.Name) != table.RenamedFrom
            ? CarriedNames.Renamed(table, from)
            : table;

    /// <summary>An earlier name of the source table <paramref name="oid"/> that the target holds, when the target lacks <paramref name="qualified"/>.</summary>
    private (string Schema, string Name)? RenamedFrom(uint oid, string qualified)
    {
        lock (_lock)
        {
            return _onTarget.Contains(qualified) ? null : _names.HeldElsewhere(oid, qualified, _onTarget.Contains);
        }
    }

    /// <summary>Each target table's stored position (read at the follow session's start): a change committed before it is applied there.</summary>
    public IReadOnlyDictionary<string, ulong> Positions { get; set; } = new Dictionary<string, ulong>();

    /// <summary>
    /// True when the stream sends a change of a table under a name the target lacks while the target holds the table
    /// under another of its names, with a stored position past the change's commit: a change from before a rename the
    /// target has applied and committed (sent again after a restart), which the renamed table holds already.
    /// </summary>
    public bool Superseded(SourceRelation relation, ulong commitLsn) =>
        RenamedFrom(relation.Id, Db.Qualified(relation.Schema, relation.Name)) is { } from
        && Positions.TryGetValue(Db.Qualified(from.Schema, from.Name), out var at) && commitLsn < at;
}

using System.Text;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Online.Apply;

/// <summary>The carry's copy at a marker: what the watch finds, the source transaction that copies, the file the apply reads at the marker.</summary>
internal sealed partial class SchemaCarry
{
    private readonly Dictionary<string, DateTime> _warned = new(StringComparer.Ordinal);
    private IReadOnlyList<string> _blocked = [];

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
            candidates = await CandidatesAsync(await _source.OpenAsync(cancellationToken), cancellationToken);
        }

        var names = candidates.ToDictionary(c => c.Oid, c => c.Qualified);
        var need = candidates.Where(c => (c.HasRows && !c.Published && !Carried(c.Qualified)) || (KnowsTarget && !OnTarget(c.Qualified) && !Carried(c.Qualified)) || Again(c.Qualified)
                                         || (KnowsTarget && OnTarget(c.Qualified) && ParentDiffers(c.Qualified, names.GetValueOrDefault(c.Parent)))).Select(c => c.Qualified).ToList();
        if (need.Count == 0)
        {
            Volatile.Write(ref _blocked, []);
            return;
        }

        try
        {
            await CarryAsync(need, cancellationToken);
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
    /// then the commit. A table already carried, or no longer on the source, is left out.
    /// </summary>
    public async Task CarryAsync(IReadOnlyList<string> tables, CancellationToken cancellationToken)
    {
        using (await _source.TurnAsync(cancellationToken))
        {
            var session = await _source.OpenAsync(cancellationToken);
            var names = new List<string>();
            foreach (var t in tables.Where(t => !Carried(t) || Again(t)).Distinct(StringComparer.Ordinal))
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

                    if (await RelinkingAsync(session, defined.First(d => d.Qualified == t), cancellationToken) is { } relinked)
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

                // A table the target holds under an earlier name is renamed there, its rows kept.
                renamed = [.. defined.Where(d => d.RenamedFrom is not null && names.Contains(d.Qualified)).Select(d => $"{d.RenamedFrom} renamed {d.Qualified}")];
                copied = [.. names.Where(t => defined.First(d => d.Qualified == t).RenamedFrom is null && !kept.Contains(t))];
                await WriteAsync(session, path, Ordered(defined), copied, cancellationToken);
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

            lock (_lock)
            {
                _carried.UnionWith(names);
                _awaiting.UnionWith(copied);
                foreach (var table in defined.Where(d => names.Contains(d.Qualified)))
                {
                    _displayed[table.Qualified] = $"{table.Relation.Schema}.{table.Relation.Name}";
                    _carryLog.Add(table.Qualified);
                }
            }

            Relinked(parents);

            Taken(names);

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

    /// <summary>
    /// True while the table's copy waits for its marker to be applied and committed: the stream's changes to it
    /// before the marker are in the copy (they committed before its snapshot), so the apply leaves them out (an
    /// UPDATE or DELETE of a row it held before it was published would find nothing on the target).
    /// </summary>
    public bool Awaiting(SourceRelation relation)
    {
        lock (_lock)
        {
            return _awaiting.Contains(Db.Qualified(relation.Schema, relation.Name));
        }
    }

    /// <summary>The copies of these tables are committed on the target at their markers.</summary>
    public void Loaded(IEnumerable<string> tables)
    {
        lock (_lock)
        {
            _awaiting.ExceptWith(tables);
        }

        Unyield(tables);
    }

    /// <summary>How many copies the carry has taken so far: a mark for <see cref="CarriedSince"/>.</summary>
    public int Carries
    {
        get
        {
            lock (_lock)
            {
                return _carryLog.Count;
            }
        }
    }

    /// <summary>
    /// The tables ("schema.table", as verify names them) copied since <paramref name="mark"/> (a value of
    /// <see cref="Carries"/>), with those whose copy still waits for its marker: a position taken meanwhile may come
    /// before their rows reach the target.
    /// </summary>
    public IReadOnlySet<string> CarriedSince(int mark)
    {
        lock (_lock)
        {
            return _carryLog.Skip(mark).Concat(_awaiting).Select(q => _displayed.GetValueOrDefault(q, q)).ToHashSet(StringComparer.Ordinal);
        }
    }

    private bool Carried(string qualified)
    {
        lock (_lock)
        {
            return _carried.Contains(qualified);
        }
    }

    /// <summary>A table with those of its partitioned ancestors the target lacks, the highest first.</summary>
    private async Task<List<CarriedTable>> ChainAsync(NpgsqlConnection session, string qualified, CancellationToken cancellationToken)
    {
        var chain = new List<CarriedTable>();
        for (var next = await Db.ScalarAsync<uint?>(session, $"SELECT pg_catalog.to_regclass({Db.Literal(qualified)})::oid", cancellationToken); next is { } at;)
        {
            var table = Renaming(await DescribeAsync(session, at, cancellationToken));
            chain.Insert(0, table);
            var parent = await Db.ScalarAsync<uint?>(session, $"SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid WHERE i.inhrelid = {at} AND c.relispartition AND NOT i.inhdetachpending", cancellationToken);
            next = parent is { } p && !OnTarget(await Db.ScalarAsync<string>(session, $"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {p}", cancellationToken) ?? "") ? p : null;
        }

        return chain;
    }

    private async Task<bool> PublishedAsync(NpgsqlConnection session, string qualified, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<bool>(session, $"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables p JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass({Db.Literal(qualified)}) JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = {Db.Literal(_publication)} AND p.schemaname = n.nspname AND p.tablename = c.relname)", cancellationToken);

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
    private static async Task WriteAsync(NpgsqlConnection session, string path, List<CarriedTable> tables, List<string> copied, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        await using (var w = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true))
        {
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
            }

            for (var i = 0; i < tables.Count; i++)
            {
                var t = tables[i];
                if (!t.HasRows || !copied.Contains(t.Qualified))
                {
                    continue;
                }

                var columns = string.Join(", ", t.Relation.Columns.Select(Db.Ident));
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
}

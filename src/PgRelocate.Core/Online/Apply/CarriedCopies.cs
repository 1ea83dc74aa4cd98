namespace PgRelocate.Online.Apply;

/// <summary>
/// The copies the carry has taken at markers: the tables carried (not copied again unless asked), those whose copy
/// waits for its marker to be applied and committed (their changes before it are left out), and the log of copies
/// that <see cref="CarriedSince"/> reads. A copy waits by its name and, when the marker's look read it, by the source
/// table's oid: the stream may still send a change under that name from another table (one renamed away from it on
/// the source before a new table took the name, whose changes the stream has not reached yet), which is no part of
/// the copy and is applied.
/// </summary>
internal sealed class CarriedCopies
{
    private readonly object _lock = new();
    private readonly HashSet<string> _carried = new(StringComparer.Ordinal);
    /// <summary>The copies waiting for their markers: the table's name, and its source oid when known (null: any table of that name).</summary>
    private readonly Dictionary<string, uint?> _awaiting = new(StringComparer.Ordinal);
    private readonly List<string> _carryLog = [];
    private readonly Dictionary<string, string> _displayed = new(StringComparer.Ordinal);

    /// <summary>True when a marker has carried the table (quoted name) in this run.</summary>
    public bool Carried(string qualified)
    {
        lock (_lock)
        {
            return _carried.Contains(qualified);
        }
    }

    /// <summary>The table's name is free on the target (its table renamed away): a new table given it is carried again.</summary>
    public void Forget(string qualified)
    {
        lock (_lock)
        {
            _carried.Remove(qualified);
        }
    }

    /// <summary>
    /// True while the table's copy (quoted name, source oid <paramref name="oid"/>) waits for its marker to be applied and
    /// committed: the stream's changes to it before the marker are in the copy (they committed before its snapshot),
    /// so the apply leaves them out (an UPDATE or DELETE of a row it held before it was published would find nothing
    /// on the target). Not for another table that had the name then (see the class).
    /// </summary>
    public bool Awaiting(string qualified, uint oid)
    {
        lock (_lock)
        {
            return _awaiting.TryGetValue(qualified, out var awaited) && (awaited is null || awaited == oid);
        }
    }

    /// <summary>These tables' copies wait for their markers (the tables the snapshot copy gave up, at the follow's start).</summary>
    public void Await(IEnumerable<string> tables)
    {
        lock (_lock)
        {
            foreach (var table in tables)
            {
                _awaiting[table] = null;
            }
        }
    }

    /// <summary>
    /// One marker carried these tables (<paramref name="names"/>, quoted), copied those of <paramref name="copied"/>
    /// (waiting for the marker now); <paramref name="defined"/> holds their definitions, with the names verify shows.
    /// </summary>
    public void Record(IReadOnlyList<string> names, IEnumerable<string> copied, IEnumerable<CarriedTable> defined)
    {
        lock (_lock)
        {
            _carried.UnionWith(names);
            foreach (var table in copied)
            {
                _awaiting[table] = defined.FirstOrDefault(d => d.Qualified == table)?.Relation.Id;
            }

            foreach (var table in defined.Where(d => names.Contains(d.Qualified)))
            {
                _displayed[table.Qualified] = $"{table.Relation.Schema}.{table.Relation.Name}";
                _carryLog.Add(table.Qualified);
            }
        }
    }

    /// <summary>The copies of these tables are committed on the target at their markers.</summary>
    public void Loaded(IEnumerable<string> tables)
    {
        lock (_lock)
        {
            foreach (var table in tables)
            {
                _awaiting.Remove(table);
            }
        }
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
            return _carryLog.Skip(mark).Concat(_awaiting.Keys).Select(q => _displayed.GetValueOrDefault(q, q)).ToHashSet(StringComparer.Ordinal);
        }
    }
}

using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Online.Apply;

/// <summary>
/// Which lane applies each table's changes. Tables a foreign key ties together, and a partitioned table with
/// its partitions, form one group (read from the target's catalog, <c>ApplyRoutes.sql</c>); a group always goes
/// to the same lane, so every statement that a constraint makes depend on another runs on the connection that ran
/// the other, in the source's order. The groups the source writes are spread by how much it has written to each
/// (its statistics' rows inserted, updated and deleted, <c>ApplyRoutesWrites.sql</c>): the busiest first, each to the
/// lane with the fewest rows so far, so that one busy table does not share its lane with the next ones. Any other
/// group (never written, new while following, or the statistics unreadable) goes to a lane chosen by a stable hash of
/// its first table's name.
/// </summary>
internal sealed class ApplyRoutes
{
    private readonly Dictionary<string, string> _parent = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, int> _byRelation = [];
    private readonly Dictionary<string, int> _byGroup = new(StringComparer.Ordinal);
    private readonly int _lanes;

    private ApplyRoutes(int lanes) => _lanes = lanes;

    /// <summary>
    /// The routes over <paramref name="lanes"/> lanes, from the target's catalog and what the side the changes come
    /// from (<paramref name="from"/>) has written to each table; without its statistics, by hash alone.
    /// </summary>
    public static async Task<ApplyRoutes> ReadAsync(NpgsqlConnection conn, NpgsqlConnection? from, int lanes, CancellationToken cancellationToken)
    {
        if (lanes <= 1)
        {
            return From(1, []);
        }

        var ties = await Db.ListAsync(conn, OnlineSql.ApplyRoutes, r => (Name(r.GetString(0), r.GetString(1)), Name(r.GetString(2), r.GetString(3))), cancellationToken);
        IReadOnlyList<(string, long)> writes = [];
        if (from is not null)
        {
            try
            {
                writes = await Db.ListAsync(from, OnlineSql.ApplyRoutesWrites, r => (Name(r.GetString(0), r.GetString(1)), r.GetInt64(2)), cancellationToken);
            }
            catch (PostgresException)
            {
                // Statistics the role may not read: the hash spreads the tables instead.
            }
        }

        return From(lanes, ties, writes);
    }

    /// <summary>
    /// The routes over <paramref name="lanes"/> lanes, given the pairs of tables ("schema"."table", quoted as <see cref="Db.Ident"/> does) that must share one
    /// and the rows the source has written to each table.
    /// </summary>
    internal static ApplyRoutes From(int lanes, IEnumerable<(string A, string B)> ties, IEnumerable<(string Table, long Rows)>? writes = null)
    {
        var routes = new ApplyRoutes(lanes);
        foreach (var (a, b) in ties)
        {
            routes.Join(a, b);
        }

        if (lanes > 1)
        {
            routes.Spread(writes ?? []);
        }

        return routes;
    }

    /// <summary>The lane of a table of the stream.</summary>
    public int LaneOf(SourceRelation relation)
    {
        if (!_byRelation.TryGetValue(relation.Id, out var lane))
        {
            var group = Root(Name(relation.Schema, relation.Name));
            lane = _lanes == 1 ? 0 : _byGroup.TryGetValue(group, out var spread) ? spread : (int)(Fnv(group) % (uint)_lanes);
            _byRelation[relation.Id] = lane;
        }

        return lane;
    }

    /// <summary>Each written group to the lane with the fewest rows written so far, the busiest groups first.</summary>
    private void Spread(IEnumerable<(string Table, long Rows)> writes)
    {
        var groups = writes.Where(w => w.Rows > 0).GroupBy(w => Root(w.Table), StringComparer.Ordinal)
            .Select(g => (Group: g.Key, Rows: g.Sum(w => w.Rows)))
            .OrderByDescending(g => g.Rows).ThenBy(g => g.Group, StringComparer.Ordinal);
        var load = new long[_lanes];
        foreach (var (group, rows) in groups)
        {
            var lane = Array.IndexOf(load, load.Min());
            _byGroup[group] = lane;
            load[lane] += rows;
        }
    }

    /// <summary>
    /// A table new to the follow (carried while following) joins the group of a table it is tied to (its parent, a
    /// table it references), keeping that group's lane; one already in a group, or leading one, stays where it is: a
    /// table renamed on the source is tied to its earlier name, and a new table given that name then takes the lane
    /// the renamed one has, whatever it references.
    /// </summary>
    public void Tie(string table, string to)
    {
        if (!_parent.ContainsKey(table) && !_parent.ContainsValue(table) && Root(to) != table)
        {
            _parent[table] = Root(to);
        }
    }

    private static string Name(string schema, string table) => Db.Qualified(schema, table);

    private string Root(string table)
    {
        while (_parent.TryGetValue(table, out var parent) && parent != table)
        {
            table = parent;
        }

        return table;
    }

    private void Join(string a, string b)
    {
        var (ra, rb) = (Root(a), Root(b));
        if (ra == rb)
        {
            return;
        }

        // The smaller name leads its group, whatever order the catalog lists the pairs in.
        if (string.CompareOrdinal(ra, rb) < 0)
        {
            _parent[rb] = ra;
        }
        else
        {
            _parent[ra] = rb;
        }
    }

    /// <summary>FNV-1a: the same lane for the same group in every run (string.GetHashCode changes per process).</summary>
    private static uint Fnv(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}

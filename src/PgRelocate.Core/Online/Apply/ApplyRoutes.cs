using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Online.Apply;

/// <summary>
/// Which lane applies each table's changes. Tables a foreign key ties together, and a partitioned table with
/// its partitions, form one group (read from the target's catalog, <c>ApplyRoutes.sql</c>); a group always goes
/// to the same lane, chosen by a stable hash of its first table's name, so every statement that a constraint
/// makes depend on another runs on the connection that ran the other, in the source's order.
/// </summary>
internal sealed class ApplyRoutes
{
    private readonly Dictionary<string, string> _parent = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, int> _byRelation = [];
    private readonly int _lanes;

    private ApplyRoutes(int lanes) => _lanes = lanes;

    /// <summary>The routes over <paramref name="lanes"/> lanes, from the target's catalog.</summary>
    public static async Task<ApplyRoutes> ReadAsync(NpgsqlConnection conn, int lanes, CancellationToken cancellationToken) =>
        lanes > 1
            ? From(lanes, await Db.ListAsync(conn, OnlineSql.ApplyRoutes, r => (Name(r.GetString(0), r.GetString(1)), Name(r.GetString(2), r.GetString(3))), cancellationToken))
            : From(1, []);

    /// <summary>The routes over <paramref name="lanes"/> lanes, given the pairs of tables ("schema"."table", quoted as <see cref="Db.Ident"/> does) that must share one.</summary>
    internal static ApplyRoutes From(int lanes, IEnumerable<(string A, string B)> ties)
    {
        var routes = new ApplyRoutes(lanes);
        foreach (var (a, b) in ties)
        {
            routes.Join(a, b);
        }

        return routes;
    }

    /// <summary>The lane of a table of the stream.</summary>
    public int LaneOf(SourceRelation relation)
    {
        if (!_byRelation.TryGetValue(relation.Id, out var lane))
        {
            lane = _lanes == 1 ? 0 : (int)(Fnv(Root(Name(relation.Schema, relation.Name))) % (uint)_lanes);
            _byRelation[relation.Id] = lane;
        }

        return lane;
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

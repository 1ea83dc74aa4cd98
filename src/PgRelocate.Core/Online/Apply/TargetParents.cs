using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online.Apply;

/// <summary>
/// Partitions detached or attached on the source while following (<c>DETACH PARTITION</c>, <c>ATTACH PARTITION</c> of
/// a table the target has): the watch finds a table whose partitioned parent on the source is not its parent on the
/// target, and carries it at a marker whose definition gives the target's table the source's parent
/// (<c>CarriedParent.sql</c>, a no-op when run again). A detached partition was not sent by the stream from its
/// detach to the marker (the publication sends it through its parent only): it is added to the publication and copied
/// at the marker like a new table. A table attached was sent all along: its rows are kept. A partition left
/// detach pending (<c>DETACH PARTITION … CONCURRENTLY</c> between its two transactions, or interrupted there) is
/// taken for detached: the source routes no row to it through its parent any more and the stream no longer sends
/// its own (pgoutput finds no published ancestor for it), so it is detached on the target and copied at the marker;
/// its <c>FINALIZE</c> changes nothing the follow sees. This class keeps each target table's parent, as read at
/// the follow session's start and carried since.
/// </summary>
internal sealed class TargetParents
{
    private readonly object _lock = new();
    private readonly Dictionary<string, string?> _targetParents = new(StringComparer.Ordinal);

    /// <summary>The target's tables (quoted names) with their parents (null for none), as a session reads them at its start.</summary>
    public void Reset(IEnumerable<(string Name, string? Parent)> tables)
    {
        lock (_lock)
        {
            _targetParents.Clear();
            foreach (var (name, parent) in tables)
            {
                _targetParents[name] = parent;
            }
        }
    }

    /// <summary>
    /// True when the target's table is attached elsewhere than <paramref name="parent"/> (quoted name, null for none), as
    /// read at the session's start and carried since (a table the follow created since is as the source's was).
    /// </summary>
    public bool Differs(string qualified, string? parent)
    {
        lock (_lock)
        {
            return _targetParents.TryGetValue(qualified, out var before) && before != parent;
        }
    }

    /// <summary>
    /// The table's definition that attaches or detaches it on the target as on the source, when the target has it
    /// with another parent; null otherwise. The caller has seen the target has it under the same name.
    /// </summary>
    public async Task<(CarriedTable Table, string Description, string? Parent)?> RelinkingAsync(NpgsqlConnection session, CarriedTable table, CancellationToken cancellationToken)
    {
        var (parent, bound) = await SourceParentAsync(session, table.Relation.Id, cancellationToken);
        if (!Differs(table.Qualified, parent))
        {
            return null;
        }

        string? before;
        lock (_lock)
        {
            before = _targetParents[table.Qualified];
        }

        var statement = CatalogSql.Load("Online/CarriedParent.sql", new Dictionary<string, string>
        {
            ["table"] = Db.Literal(table.Qualified),
            ["parent"] = parent is null ? "NULL" : Db.Literal(parent),
            ["bound"] = bound is null ? "NULL" : Db.Literal(bound),
        });
        var description = string.Join(" and ", new[] { before is null ? null : $"{table.Qualified} detached from {before}", parent is null ? null : $"{table.Qualified} attached to {parent} {bound}" }.Where(d => d is not null));
        return (table with { Statements = [statement] }, description, parent);
    }

    /// <summary>
    /// The parents to keep for the tables a marker defines that this class does not know (made by the follow since the
    /// session's start) or that it renames on the target: a made one's is its source table's in the marker's snapshot
    /// (the target's is made as that one is there), a renamed one keeps the one the target's table had under its
    /// earlier name. Unknown, a table made while a plain one and attached on the source later (pg_partman's way) was
    /// never attached on the target: its indexes then failed to attach at the switch.
    /// </summary>
    public async Task<List<(string Table, string? Parent)>> MadeAsync(NpgsqlConnection session, IEnumerable<CarriedTable> defined, CancellationToken cancellationToken)
    {
        var parents = new List<(string, string?)>();
        foreach (var table in defined)
        {
            string? earlier = null;
            var known = false;
            lock (_lock)
            {
                known = table.RenamedFrom is { } from ? _targetParents.TryGetValue(from, out earlier) : _targetParents.ContainsKey(table.Qualified);
            }

            if (table.RenamedFrom is not null && known)
            {
                parents.Add((table.Qualified, earlier));
            }
            else if (table.RenamedFrom is null && !known)
            {
                parents.Add((table.Qualified, (await SourceParentAsync(session, table.Relation.Id, cancellationToken)).Parent));
            }
        }

        return parents;
    }

    /// <summary>The partitioned parent (quoted name, null for none) of the source table <paramref name="oid"/> in the session's snapshot, with the table's bound.</summary>
    private static async Task<(string? Parent, string? Bound)> SourceParentAsync(NpgsqlConnection session, uint oid, CancellationToken cancellationToken) =>
        (await Db.ListAsync(
            session,
            $"SELECT n.nspname::text, p.relname::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace WHERE c.oid = {oid} AND c.relispartition AND NOT i.inhdetachpending",
            r => (Db.Qualified(r.GetString(0), r.GetString(1)), r.IsDBNull(2) ? null : r.GetString(2)),
            cancellationToken)).Select(p => ((string?)p.Item1, p.Item2)).FirstOrDefault();

    /// <summary>The target's tables are attached as the source's were when the markers that carried them were written.</summary>
    public void Relinked(IEnumerable<(string Table, string? Parent)> parents)
    {
        lock (_lock)
        {
            foreach (var (table, parent) in parents)
            {
                _targetParents[table] = parent;
            }
        }
    }

    /// <summary>True for a definition that looks at the target's state itself (a partition attached or detached): run whether or not the target has the table.</summary>
    internal static bool RunsAlways(IReadOnlyList<string> statements) => statements.Count > 0 && statements.All(s => s.StartsWith("DO ", StringComparison.Ordinal));
}

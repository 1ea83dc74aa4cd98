using System.Runtime.CompilerServices;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Online.Fallback;

/// <summary>
/// Reads the way back's queue on the target as the apply's changes, in commit order: each transaction that is
/// over, whole, at the place of its last write (see <see cref="HorizonAsync"/> and docs/architecture.md, "The way
/// back"). A transaction's place is its last write's number, carried as the "commit position" the apply stores
/// with what it applied, so a run after a kill skips exactly what the old source holds already.
/// </summary>
internal sealed class FallbackQueue(NpgsqlConnection target)
{
    private const string Schema = OnlineNames.TargetSchema;

    private readonly Dictionary<uint, Table> _tables = [];

    /// <summary>
    /// A number such that every transaction whose last write is below it is over and seen by a later snapshot:
    /// drawn from the queue's sequence, then every transaction in progress just after (the snapshot's) waited
    /// for. A transaction writing below it drew its number before, so it had its id by then and was in that
    /// snapshot or over; a transaction still running may write more, above it, and is read by a later round. The
    /// draw and the snapshot go in one round trip, two statements (each with its own snapshot, in that order).
    /// </summary>
    /// <returns>
    /// The number, and whether the snapshot saw no transaction in progress at all (where nothing new can write, as on a
    /// target made read-only with its sessions ended, nothing can come after it); or null when those transactions
    /// are not all over within <paramref name="patience"/> (a round later asks again).
    /// </returns>
    public async Task<(long Upto, bool Quiet)?> HorizonAsync(TimeSpan patience, CancellationToken cancellationToken)
    {
        long upto;
        string snapshot;
        long seen, running;
        await using (var batch = new NpgsqlBatch(target) { BatchCommands = { new($"SELECT pg_catalog.nextval('{Schema}.fallback_seq')"), new(FallbackSql.QueueSnapshot) } })
        await using (var r = await batch.ExecuteReaderAsync(cancellationToken))
        {
            await r.ReadAsync(cancellationToken);
            upto = r.GetInt64(0);
            await r.NextResultAsync(cancellationToken);
            await r.ReadAsync(cancellationToken);
            (snapshot, seen, running) = (r.GetString(0), r.GetInt64(1), r.GetInt64(2));
        }

        var until = DateTime.UtcNow + patience;
        for (var wait = 10; running > 0; wait = Math.Min(wait * 2, 200))
        {
            if (DateTime.UtcNow >= until)
            {
                return null;
            }

            await Task.Delay(wait, cancellationToken);
            await using var cmd = new NpgsqlCommand(FallbackSql.QueueHorizon, target);
            cmd.Parameters.AddWithValue(snapshot);
            running = (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
        }

        return (upto, seen == 0);
    }

    /// <summary>
    /// The changes of the transactions whose last write is in [<paramref name="from"/>, <paramref name="upto"/>),
    /// in commit order, each between a <see cref="BeginChange"/> and a <see cref="CommitChange"/> at its place.
    /// </summary>
    public async IAsyncEnumerable<Change> ReadAsync(long from, long upto, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await DescribeAsync(cancellationToken);
        await using var cmd = new NpgsqlCommand(FallbackSql.QueueRead, target);
        cmd.Parameters.AddWithValue(from);
        cmd.Parameters.AddWithValue(upto);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        long? open = null;
        DateTime at = default;
        var truncated = new List<SourceRelation>();
        Definition? defining = null;
        while (await r.ReadAsync(cancellationToken))
        {
            var last = r.GetInt64(0);
            if (open != last)
            {
                foreach (var c in Close(open, at, truncated, ref defining))
                {
                    yield return c;
                }

                open = last;
                at = r.GetDateTime(1);
                yield return new BeginChange((ulong)last, at);
            }

            var kind = r.GetChar(3);
            if (!_tables.TryGetValue(r.GetFieldValue<uint>(2), out var table))
            {
                // Dropped on the target since: its changes have nowhere to go (the rollback names the table).
                continue;
            }

            if (kind is FallbackNewTables.Statement or FallbackNewTables.Tie)
            {
                if (defining?.Table != table)
                {
                    foreach (var c in Pending(truncated, ref defining))
                    {
                        yield return c;
                    }

                    defining = new Definition(table, [], []);
                }

                (kind == FallbackNewTables.Statement ? defining!.Statements : defining!.Ties).Add(r.GetString(5));
                continue;
            }

            if (kind == 'T' && defining?.Table == table)
            {
                // The emptying queued with a table new to the capture, before its rows: its definition does it.
                defining.EmptyWhereThere = true;
                continue;
            }

            // A TRUNCATE's tables queue one row each, one after another: they stay together (a table and the ones
            // whose foreign keys reference it may only be truncated in one statement).
            foreach (var c in Pending(truncated, ref defining, truncates: kind != 'T'))
            {
                yield return c;
            }

            if (kind == 'T')
            {
                truncated.Add(table.Relation);
                continue;
            }

            var old = r.IsDBNull(4) ? null : table.Row(r.GetString(4));
            var row = r.IsDBNull(5) ? null : table.Row(r.GetString(5));
            yield return kind switch
            {
                'I' => new InsertChange(table.Relation, row!),
                'U' when table.FullRow => new UpdateChange(table.Relation, old, true, row!),
                'U' => new UpdateChange(table.Relation, table.SameKey(old!, row!) ? null : old, false, row!),
                _ => new DeleteChange(table.Relation, old!, table.FullRow),
            };
        }

        foreach (var c in Close(open, at, truncated, ref defining))
        {
            yield return c;
        }
    }

    /// <summary>Removes the rows of every transaction the old source holds (its last write below <paramref name="position"/>).</summary>
    public async Task<int> DeleteAppliedAsync(long position, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand($"DELETE FROM {Schema}.fallback_queue WHERE xid IN (SELECT xid FROM {Schema}.fallback_queue GROUP BY xid HAVING max(seq) < $1)", target);
        cmd.Parameters.AddWithValue(position);
        return await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    private static List<Change> Close(long? open, DateTime at, List<SourceRelation> truncated, ref Definition? defining)
    {
        if (open is not { } last)
        {
            return [];
        }

        return [.. Pending(truncated, ref defining), new CommitChange((ulong)last, (ulong)last + 1, at)];
    }

    /// <summary>What the rows read so far hold back: a table's definition, the tables truncated together (unless <paramref name="truncates"/> is false: the next row truncates too).</summary>
    private static List<Change> Pending(List<SourceRelation> truncated, ref Definition? defining, bool truncates = true)
    {
        var pending = new List<Change>();
        if (defining is { } d)
        {
            pending.Add(d.Change);
            defining = null;
        }

        if (truncates && truncated.Count > 0)
        {
            pending.Add(new TruncateChange([.. truncated], Cascade: false, RestartIdentity: false));
            truncated.Clear();
        }

        return pending;
    }

    /// <summary>A table new to the capture, as its queued statements and ties say to create it.</summary>
    private sealed record Definition(Table Table, List<string> Statements, List<string> Ties)
    {
        /// <summary>Its rows follow whole (see <see cref="TableDefinitionChange.EmptyWhereThere"/>).</summary>
        public bool EmptyWhereThere { get; set; }

        public TableDefinitionChange Change =>
            new(Table.Relation, Db.Qualified(Table.Relation.Schema, Table.Relation.Name), Statements, Ties, EmptyWhereThere);
    }

    /// <summary>Describes the tables the queue names that are not described yet (one query, before the rows are read on the same session).</summary>
    private async Task DescribeAsync(CancellationToken cancellationToken)
    {
        var named = await Db.ListAsync(target, $"SELECT DISTINCT rel FROM {Schema}.fallback_queue", r => r.GetFieldValue<uint>(0), cancellationToken);
        var missing = named.Where(oid => !_tables.ContainsKey(oid)).ToArray();
        if (missing.Length == 0)
        {
            return;
        }

        await using var cmd = new NpgsqlCommand(FallbackSql.QueueTables, target);
        cmd.Parameters.Add(new NpgsqlParameter { Value = missing, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid });
        var columns = await ReadColumnsAsync(cmd, cancellationToken);
        foreach (var group in columns.GroupBy(c => c.Oid))
        {
            _tables[group.Key] = Table.Of([.. group]);
        }
    }

    private static async Task<List<Column>> ReadColumnsAsync(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
        var columns = new List<Column>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            columns.Add(new Column(r.GetFieldValue<uint>(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetBoolean(4), r.GetFieldValue<uint>(5), r.GetInt32(6), r.GetBoolean(7)));
        }

        return columns;
    }

    private sealed record Column(uint Oid, string Schema, string Table, string Name, bool Generated, uint TypeId, int TypeModifier, bool Key);

    /// <summary>A captured table as the apply sees it: its stored columns, and which of the record's values they are.</summary>
    private sealed record Table(SourceRelation Relation, int[] Kept, bool FullRow)
    {
        public static Table Of(IReadOnlyList<Column> columns)
        {
            var kept = Enumerable.Range(0, columns.Count).Where(i => !columns[i].Generated).ToArray();
            var full = !kept.Any(i => columns[i].Key);
            var first = columns[0];
            var relation = new SourceRelation(
                first.Oid,
                first.Schema,
                first.Table,
                [.. kept.Select(i => columns[i].Name)],
                [.. kept.Select(i => full || columns[i].Key)],
                [.. kept.Select(i => columns[i].TypeId)],
                [.. kept.Select(i => columns[i].TypeModifier)]);
            return new Table(relation, kept, full);
        }

        public RowValues Row(string text)
        {
            var all = RecordText.Parse(text);
            return new RowValues([.. Kept.Select(i => all[i])], new bool[Kept.Length]);
        }

        public bool SameKey(RowValues old, RowValues row) =>
            Enumerable.Range(0, Kept.Length).All(i => !Relation.Key[i] || string.Equals(old.Values[i], row.Values[i], StringComparison.Ordinal));
    }
}

using Npgsql;
using PgRelocate.Online;
using PgRelocate.Online.Apply;

namespace PgRelocate.Tests.Online;

/// <summary>
/// A lane that applies nothing and writes down what it is asked, in order: begins, the statement the target
/// table would run for each change (<see cref="TargetTable"/>, matched to a description made from the stream's
/// own, as the target's catalog would give it), ends, commits with their last statement, stops. The applier
/// under test cannot tell it from a lane on a connection.
/// </summary>
internal sealed class RecordingLane(string name) : IApplyLane
{
    private static readonly Dictionary<uint, string> TypeNames = new() { [20] = "bigint", [23] = "integer", [25] = "text" };
    private readonly Dictionary<uint, TargetTable> _tables = [];
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    /// <summary>What the lane was asked, one line each.</summary>
    public List<string> Log { get; } = [];

    /// <summary>Statements it would have run, in order, with their parameters' values.</summary>
    public IEnumerable<string> Statements => Log.Where(l => l.StartsWith("sql ", StringComparison.Ordinal)).Select(l => l[4..]);

    public bool Stopped { get; private set; }

    public IReadOnlyCollection<string> ChangedTables => _changed;

    public bool HasOpenGroup { get; private set; }

    public ValueTask BeginAsync(ulong commitLsn, CancellationToken cancellationToken)
    {
        HasOpenGroup = true;
        Log.Add("begin");
        return ValueTask.CompletedTask;
    }

    public ValueTask ApplyAsync(Change change, CancellationToken cancellationToken)
    {
        var statement = change switch
        {
            InsertChange i => Table(i.Relation).Insert(i.New),
            UpdateChange u => Table(u.Relation).Update(u),
            DeleteChange d => Table(d.Relation).Delete(d.Old, d.OldIsFullRow),
            _ => null,
        };
        Log.Add(change switch
        {
            TruncateChange t => "truncate " + string.Join(", ", t.Relations.Select(r => Table(r).Qualified)),
            _ when statement is null => "nothing to set",
            _ => "sql " + Render(statement),
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask EndAsync(ulong endLsn, CancellationToken cancellationToken)
    {
        Log.Add("end");
        return ValueTask.CompletedTask;
    }

    public Task CommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null)
    {
        HasOpenGroup = false;
        Log.Add(last is null ? "commit" : "commit with " + Render(last));
        return Task.CompletedTask;
    }

    public ValueTask<Task> StartCommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null) =>
        ValueTask.FromResult(CommitAsync(cancellationToken, last));

    public async ValueTask<Task> StartRunAsync(NpgsqlBatchCommand command, Task after, CancellationToken cancellationToken)
    {
        // Run in order, as the lane on a connection would: after what it waits for.
        await after;
        Log.Add("run " + Render(command));
        return Task.CompletedTask;
    }

    public Task StopAsync()
    {
        Stopped = true;
        Log.Add("stop");
        return Task.CompletedTask;
    }

    private TargetTable Table(SourceRelation relation)
    {
        if (!_tables.TryGetValue(relation.Id, out var table))
        {
            var columns = relation.Columns.Select((c, i) => (c, i)).ToDictionary(
                x => x.c, x => (TypeNames[relation.TypeIds[x.i]], relation.TypeIds[x.i], relation.TypeModifiers[x.i]), StringComparer.Ordinal);
            table = _tables[relation.Id] = TargetTable.Match(relation, columns, partitioned: false, new TargetTable.TableConstraints(Coalescable: true, RowsMayVanish: false, ForeignKeys: false));
            _changed.Add(table.Qualified);
        }

        return table;
    }

    /// <summary>The statement with its parameters' values in place of $n, and the tool's own bookkeeping by name.</summary>
    private static string Render(NpgsqlBatchCommand command)
    {
        if (command.CommandText.Contains(".position SET lsn", StringComparison.Ordinal))
        {
            return $"advance to {command.Parameters[0].Value} ({command.Parameters[1].Value} changes, {command.Parameters[2].Value} transactions)";
        }

        var text = command.CommandText;
        for (var i = command.Parameters.Count; i >= 1; i--)
        {
            var value = command.Parameters[i - 1].Value;
            text = text.Replace("$" + i, value is null or DBNull ? "NULL" : "'" + value + "'", StringComparison.Ordinal);
        }

        return text;
    }
}

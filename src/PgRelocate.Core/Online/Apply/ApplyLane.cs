using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace PgRelocate.Online.Apply;

/// <summary>
/// One connection of the apply and the tables routed to it (<see cref="ApplyRoutes"/>): it applies their
/// changes in the source's commit order, on its own, while the other lanes apply theirs. Its target
/// transaction holds consecutive source transactions' changes to its tables and commits when the applier says
/// (every lane at the same source transaction boundary), with each table's applied position in the same
/// transaction: a crash or a restart never loses or repeats a change to any table.
/// </summary>
internal sealed class ApplyLane : IApplyLane
{
    private readonly NpgsqlConnection _connection;
    private readonly string _slot;
    private readonly IReadOnlyDictionary<string, ulong> _stored;
    /// <summary>
    /// The changes sent and not applied yet: room for those of a whole group's commit (a commit takes the lane a few
    /// hundred milliseconds at most, the applier meanwhile goes on with the next group), their bytes bounded by
    /// <see cref="_queuedBytes"/>.
    /// </summary>
    private readonly Channel<Item> _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(QueueLength) { SingleReader = true, SingleWriter = true });
    private readonly QueuedBytes _queuedBytes = new(QueueBytes);
    /// <summary>
    /// Each table's target description, by the source's id of the table, with the stream's description it was
    /// made for. The stream describes a table again after every change to its catalog row (each VACUUM and
    /// ANALYZE, autovacuum's too, not only an ALTER): the new description replaces the entry, so a follow of
    /// any length holds one per table.
    /// </summary>
    private readonly Dictionary<uint, (SourceRelation Relation, TargetTable Table)> _tables = [];
    private readonly HashSet<string> _groupTables = new(StringComparer.Ordinal);
    private readonly TargetWrites _writes;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _running;
    private readonly bool _bookkeepingAtCommit;
    private readonly bool _ownsConnection;
    private const int QueueLength = 32_768;
    private const long QueueBytes = 32L << 20;
    private NpgsqlTransaction? _transaction;
    private ulong _commitLsn;
    private ulong _groupEnd;

    /// <param name="stored">Each table's stored position: a change to it from a transaction committed before it was applied already.</param>
    /// <param name="bookkeepingAtCommit">
    /// Write the tool's own rows (the tables changed) only when committing, not at a table's first change: a lane
    /// that holds a source transaction open while the others commit must not hold those rows, which they write too.
    /// </param>
    /// <param name="ownsConnection">Close the connection when the lane stops (rolling back what it holds).</param>
    /// <param name="sides">What its failures call the two sides (the way back applies to the old source).</param>
    public ApplyLane(NpgsqlConnection connection, string slot, IReadOnlyDictionary<string, ulong> stored, bool bookkeepingAtCommit = false, bool ownsConnection = false, FollowSides? sides = null)
    {
        _ownsConnection = ownsConnection;
        _connection = connection;
        _slot = slot;
        _stored = stored;
        _bookkeepingAtCommit = bookkeepingAtCommit;
        _writes = new TargetWrites(connection, sides);
        _running = Task.Run(LoopAsync);
    }

    /// <summary>Tables changed by this lane since the follow started: written by the lane's task, read by the follow's.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _changed = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> ChangedTables => [.. _changed.Keys];

    /// <summary>How many tables' target descriptions the lane holds.</summary>
    internal int DescribedTables => _tables.Count;

    /// <summary>True while its target transaction holds changes not committed yet.</summary>
    public bool HasOpenGroup { get; private set; }

    /// <summary>Before the first change of a source transaction routed here.</summary>
    public ValueTask BeginAsync(ulong commitLsn, CancellationToken cancellationToken)
    {
        HasOpenGroup = true;
        return WriteAsync(new Item.Begin(commitLsn), cancellationToken);
    }

    public async ValueTask ApplyAsync(Change change, CancellationToken cancellationToken)
    {
        var bytes = QueuedBytes.Of(change);
        await _queuedBytes.TakeAsync(bytes, cancellationToken);
        await WriteAsync(new Item.Row(change, bytes), cancellationToken);
    }

    /// <summary>After the last change of a source transaction routed here.</summary>
    public ValueTask EndAsync(ulong endLsn, CancellationToken cancellationToken) => WriteAsync(new Item.End(endLsn), cancellationToken);

    /// <summary>Commits what the lane holds, once it has applied everything sent before; done when committed.</summary>
    /// <param name="last">A statement of the applier's own to run last in the same transaction (the follow's position).</param>
    public async Task CommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null) =>
        await await StartCommitAsync(cancellationToken, last);

    /// <summary>
    /// Asks the lane to commit what it holds once it has applied everything sent before, and returns once asked: the
    /// lane holds no open group from then on, and may take the next one's changes while it commits.
    /// </summary>
    /// <returns>Done when committed.</returns>
    public async ValueTask<Task> StartCommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await WriteAsync(new Item.Commit(done, last), cancellationToken);
        HasOpenGroup = false;
        return WaitAsync(done.Task, cancellationToken);
    }

    /// <summary>
    /// Asks the lane to run one statement of the applier's own, outside any transaction, once everything sent before
    /// it is done and then <paramref name="after"/> too (other lanes' commits); returns once asked. The lane holds no
    /// transaction while it waits: one asked for before this is committed, and the next is not begun.
    /// </summary>
    /// <returns>Done when run; failed, and the lane with it, when <paramref name="after"/> fails.</returns>
    public async ValueTask<Task> StartRunAsync(NpgsqlBatchCommand command, Task after, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await WriteAsync(new Item.Own(command, done, after), cancellationToken);
        return WaitAsync(done.Task, cancellationToken);
    }

    /// <summary>Stops the lane; its open transaction, if any, is rolled back with its connection.</summary>
    public async Task StopAsync()
    {
        _queue.Writer.TryComplete();
        _queuedBytes.Close();
        await _stopping.CancelAsync();
        try
        {
            await _running;
        }
        catch (Exception)
        {
            // Its error was already raised where it mattered; stopping is quiet.
        }

        _stopping.Dispose();
        if (_ownsConnection)
        {
            // Closing an unpooled connection ends its session: the server rolls back what the lane left open.
            await _connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Waits for what the lane was asked to do; a lane that fails instead, or a cancel, ends the wait. The wait lets
    /// go of the caller's token when it ends (a <c>Task.Delay(Infinite, token)</c> beside it would stay registered
    /// on the follow's token until the follow ends: two registrations a commit, tens of MB an hour).
    /// </summary>
    private async Task WaitAsync(Task done, CancellationToken cancellationToken)
    {
        var ended = await Task.WhenAny(done, _running).WaitAsync(cancellationToken);
        if (ended == _running && !done.IsCompleted)
        {
            await _running;
            throw new InvalidOperationException("An apply lane stopped before it did what it was asked.");
        }

        await done;
    }

    private async ValueTask WriteAsync(Item item, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(item, cancellationToken);
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            // The lane failed: its own error says why.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }
    }

    private async Task LoopAsync()
    {
        try
        {
            await foreach (var item in _queue.Reader.ReadAllAsync(_stopping.Token))
            {
                switch (item)
                {
                    case Item.Begin b:
                        _commitLsn = b.CommitLsn;
                        if (_transaction is null)
                        {
                            _transaction = await _connection.BeginTransactionAsync(_stopping.Token);
                            _writes.Begin(_transaction);
                        }

                        break;
                    case Item.Row r:
                        _queuedBytes.Release(r.Bytes);
                        await ApplyRowAsync(r.Change);
                        if (_queue.Reader.Count == 0)
                        {
                            // Nothing more waiting: send what is held, so a large transaction shows progress.
                            await _writes.SendPendingAsync(_stopping.Token);
                        }

                        break;
                    case Item.End e:
                        _groupEnd = e.EndLsn;
                        break;
                    case Item.Commit c:
                        await CommitGroupAsync(c.Last);
                        c.Done.TrySetResult();
                        break;
                    case Item.Own o:
                        await o.After.WaitAsync(_stopping.Token);
                        await using (var batch = new NpgsqlBatch(_connection))
                        {
                            batch.BatchCommands.Add(o.Command);
                            await batch.ExecuteNonQueryAsync(_stopping.Token);
                        }

                        o.Done.TrySetResult();
                        break;
                }
            }
        }
        catch (Exception e)
        {
            _queue.Writer.TryComplete(e);
            _queuedBytes.Close();
            // Fail whatever waits for a commit behind the failure.
            while (_queue.Reader.TryRead(out var left))
            {
                (left switch { Item.Commit c => c.Done, Item.Own o => o.Done, _ => null })?.TrySetException(e);
            }

            throw;
        }
    }

    private async Task ApplyRowAsync(Change change)
    {
        switch (change)
        {
            case InsertChange i when await TableAsync(i.Relation) is { } t:
                await _writes.InsertAsync(t, i.New, _stopping.Token);
                break;
            case UpdateChange u when await TableAsync(u.Relation) is { } t:
                await _writes.UpdateAsync(t, u, _stopping.Token);
                break;
            case DeleteChange d when await TableAsync(d.Relation) is { } t:
                await _writes.DeleteAsync(t, d, _stopping.Token);
                break;
            case TableDefinitionChange definition:
                await DefineAsync(definition);
                break;
            case TruncateChange tr:
                var tables = new List<TargetTable>();
                foreach (var relation in tr.Relations)
                {
                    if (await TableAsync(relation) is { } t)
                    {
                        tables.Add(t);
                    }
                }

                if (tables.Count > 0)
                {
                    await _writes.TruncateAsync(tables, tr.RestartIdentity, tr.Cascade, _stopping.Token);
                }

                break;
        }
    }

    /// <summary>
    /// Creates a table the source has and the target lacks, in the lane's transaction (so it commits with the rows
    /// that follow and the positions, or not at all), unless the target has it already (a resumed follow, a
    /// partition created for its first row before the marker of its copy); a partition's attach or detach runs
    /// whatever the target has (it looks at the target's state itself).
    /// </summary>
    private async Task DefineAsync(TableDefinitionChange definition)
    {
        await _writes.SendAllAsync(_stopping.Token);
        var runsAlways = TargetParents.RunsAlways(definition.Statements);
        var absent = !runsAlways || definition.EmptyWhereThere
            ? await Connections.Db.ScalarAsync<bool>(_connection, $"SELECT pg_catalog.to_regclass({Connections.Db.Literal(definition.Qualified)}) IS NULL", _stopping.Token)
            : (bool?)null;
        if (runsAlways || absent == true)
        {
            foreach (var statement in definition.Statements)
            {
                await Connections.Db.ExecuteAsync(_connection, statement, _stopping.Token);
            }

            Migration.FaultInjection.At("follow", "table-defined");
        }

        if (definition.EmptyWhereThere && absent == false)
        {
            await Connections.Db.ExecuteAsync(_connection, $"DELETE FROM ONLY {definition.Qualified}", _stopping.Token);
        }
    }

    /// <summary>Carries the source's schema changes when set: a changed column list is carried before the change that has it.</summary>
    public SchemaCarry? Carry { get; init; }

    /// <summary>Gives the target's table the source's columns in this lane's transaction; false when the change cannot be carried.</summary>
    private async Task<bool> CarryColumnsAsync(SourceRelation relation, ColumnDifference difference)
    {
        if (await Carry!.Columns.ColumnsAsync(relation, difference, _stopping.Token) is not { } carry)
        {
            return false;
        }

        // Noted before the change commits: a kill after it must not forget the copy.
        Carry.CopyAgain(carry.CopyAgain);

        await Connections.Db.ExecuteAsync(_connection, "SAVEPOINT pgrelocate_columns", _stopping.Token);
        try
        {
            foreach (var statement in carry.Statements)
            {
                await Connections.Db.ExecuteAsync(_connection, statement, _stopping.Token);
            }
        }
        catch (PostgresException e)
        {
            // The target refuses the change (a cast its rows cannot take, a view on the column): named with the SQL to run.
            await Connections.Db.ExecuteAsync(_connection, "ROLLBACK TO SAVEPOINT pgrelocate_columns", CancellationToken.None);
            throw SchemaCarry.CannotCarry(carry.Table, $"the target refuses the change ({carry.Description}: {e.MessageText}); run on the target {string.Join("; ", carry.Statements)} with the rows changed as the source changed them");
        }

        await Connections.Db.ExecuteAsync(_connection, "RELEASE SAVEPOINT pgrelocate_columns", _stopping.Token);

        Migration.FaultInjection.At("follow", "columns-changed");
        return true;
    }

    /// <summary>The target table a change goes to, or null when this transaction's changes to it were applied before a restart.</summary>
    private async Task<TargetTable?> TableAsync(SourceRelation relation)
    {
        var again = _tables.TryGetValue(relation.Id, out var known);
        var table = known.Table;
        if (!again || !ReferenceEquals(known.Relation, relation))
        {
            IReadOnlyList<string> retyped = [];
            if (again && Carry is null)
            {
                ColumnDifference.CheckRedescribed(known.Relation, relation);
            }
            else if (again)
            {
                retyped = ColumnDifference.Redescribed(known.Relation, relation);
            }

            // Send what is held first: the catalog query runs on the same connection.
            await _writes.SendAllAsync(_stopping.Token);
            table = await TargetTable.DescribeAsync(_connection, relation, _stopping.Token, Carry is null ? null : difference => CarryColumnsAsync(relation, difference), retyped);
            if (again && Carry is not null)
            {
                // Described again: the source altered the table, perhaps where the stream does not show it (a default, NOT NULL, a generated column).
                await Carry.Attributes.AttributesAsync(_connection, [table.Qualified], exact: false, _stopping.Token);
            }
            _tables[relation.Id] = (relation, table);
            if (_changed.TryAdd(table.Qualified, true) && !_bookkeepingAtCommit)
            {
                await _writes.AddOwnAsync(TargetState.Changed(table.Qualified), _stopping.Token);
            }
        }

        if (_stored.TryGetValue(table.Qualified, out var stored) && _commitLsn < stored)
        {
            return null;
        }

        _groupTables.Add(table.Qualified);
        return table;
    }

    private async Task CommitGroupAsync(NpgsqlBatchCommand? last)
    {
        if (_transaction is null)
        {
            return;
        }

        if (_bookkeepingAtCommit)
        {
            foreach (var table in _changed.Keys)
            {
                await _writes.AddLastAsync(TargetState.Changed(table), _stopping.Token);
            }
        }

        if (_groupTables.Count > 0)
        {
            await _writes.AddLastAsync(TargetState.AdvanceTables(_slot, [.. _groupTables], new NpgsqlLogSequenceNumber(_groupEnd)), _stopping.Token);
        }

        if (last is not null)
        {
            await _writes.AddLastAsync(last, _stopping.Token);
        }

        await _writes.SendAllAsync(_stopping.Token);
        await _transaction.CommitAsync(_stopping.Token);
        await _transaction.DisposeAsync();
        _transaction = null;
        _groupTables.Clear();
    }

    private abstract record Item
    {
        public sealed record Begin(ulong CommitLsn) : Item;

        public sealed record Row(Change Change, long Bytes) : Item;

        public sealed record End(ulong EndLsn) : Item;

        public sealed record Commit(TaskCompletionSource Done, NpgsqlBatchCommand? Last) : Item;

        public sealed record Own(NpgsqlBatchCommand Command, TaskCompletionSource Done, Task After) : Item;
    }
}

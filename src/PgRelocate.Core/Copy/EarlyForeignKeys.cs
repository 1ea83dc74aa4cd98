using Npgsql;
using PgRelocate.Restore;

namespace PgRelocate.Copy;

/// <summary>
/// The foreign keys a copy adds NOT VALID and validates while its data phase goes on (see <see cref="ForeignKeyValidation"/>),
/// so that the keys among the tables done early are checked beside the last tables' index builds instead of after
/// them: each once both its tables are complete (their rows in, their indexes and constraints built, ANALYZE run) and
/// every table's rows are in, on the index worker that completed the second of them, or, where both were complete
/// before the last rows were in, on the next free one (<see cref="RowsIn"/>). Not beside the rows: on two cores both
/// servers share, checks beside the last table's COPY slowed it by as long as they took (an application's database
/// of 4 GB, customers, orders and items with three foreign keys beside a log table of 2.8 GB: the copy 38.4 s
/// against 35.9 s with the checks after it), where an index build, one process, leaves a core to them. Once its
/// tables are complete neither is written again: no check meets a table still being loaded or indexed. Adding a
/// foreign key locks both its tables against any other addition (SHARE ROW EXCLUSIVE), so the additions go one at a
/// time (two workers adding keys between the same two tables in opposite directions would deadlock). Validating
/// locks the referencing table against its other validations: a key whose referencing table another worker is
/// validating is handed to that worker, which checks it next, rather than waiting for the lock in a slot of its own
/// (waiting so, the second of one table's keys held a builder 6.2 s, 2.5 s of it waiting). A key that fails here is
/// dropped again and left, with the keys of a table resumed as complete, to the copy's last step
/// (<see cref="CopyForeignKeys"/>), which reports its error.
/// </summary>
internal sealed class EarlyForeignKeys(IReadOnlyList<ValidatedForeignKey> keys, StepClock clock, Action<string> log)
{
    private readonly Lock _lock = new();
    private readonly HashSet<(string Schema, string Name)> _complete = [];
    private readonly HashSet<int> _started = [];
    private readonly HashSet<int> _done = [];

    /// <summary>Whether every table's rows are in; until then the keys found ready wait in <see cref="_parked"/>.</summary>
    private bool _rowsIn;
    private readonly List<ValidatedForeignKey> _parked = [];

    /// <summary>The referencing tables a worker is validating now, each with the keys handed to it meanwhile.</summary>
    private readonly Dictionary<(string Schema, string Name), Queue<ValidatedForeignKey>> _validating = [];
    private readonly SemaphoreSlim _adding = new(1, 1);

    /// <summary>The keys added and validated here; the last step leaves them out.</summary>
    public IReadOnlyList<ValidatedForeignKey> Done
    {
        get
        {
            lock (_lock)
            {
                return [.. keys.Where(k => _done.Contains(k.Entry.Id))];
            }
        }
    }

    /// <summary>
    /// <paramref name="table"/> is complete: the keys whose tables are now both complete are added and validated on
    /// <paramref name="conn"/>, a target writer (pg_dump's empty search_path, no timeouts, the copy's maintenance_work_mem).
    /// </summary>
    public async Task CompleteAsync(NpgsqlConnection conn, CopyTable table, CancellationToken cancellationToken)
    {
        List<ValidatedForeignKey> ready;
        lock (_lock)
        {
            if (keys.Count == 0 || !_complete.Add((table.Schema, table.Name)))
            {
                return;
            }

            ready = [.. keys.Where(k => !_started.Contains(k.Entry.Id) && _complete.Contains(k.TableName) && _complete.Contains(k.ReferencedName))];
            _started.UnionWith(ready.Select(k => k.Entry.Id));
            if (!_rowsIn)
            {
                _parked.AddRange(ready);
                return;
            }
        }

        await CheckAsync(conn, ready, cancellationToken);
    }

    /// <summary>Every table's rows are in: the keys found ready meanwhile, by referencing table, each group for an index worker's <see cref="CheckAsync"/>.</summary>
    public IReadOnlyList<IReadOnlyList<ValidatedForeignKey>> RowsIn()
    {
        lock (_lock)
        {
            _rowsIn = true;
            var groups = _parked.GroupBy(k => k.TableName).Select(g => (IReadOnlyList<ValidatedForeignKey>)[.. g]).ToList();
            _parked.Clear();
            return groups;
        }
    }

    /// <summary>Adds and validates <paramref name="ready"/> on <paramref name="conn"/>, those of a table another worker validates now handed to it.</summary>
    public async Task CheckAsync(NpgsqlConnection conn, IReadOnlyList<ValidatedForeignKey> ready, CancellationToken cancellationToken)
    {
        foreach (var referencing in ready.GroupBy(k => k.TableName))
        {
            lock (_lock)
            {
                if (_validating.TryGetValue(referencing.Key, out var queue))
                {
                    // Another worker validates this table's keys now: it checks these next.
                    foreach (var key in referencing)
                    {
                        queue.Enqueue(key);
                    }

                    continue;
                }

                _validating[referencing.Key] = new Queue<ValidatedForeignKey>(referencing);
            }

            await ValidateTableAsync(conn, referencing.Key, cancellationToken);
        }
    }

    /// <summary>Checks the keys of <paramref name="table"/> handed to this worker, and those handed to it meanwhile, one after another.</summary>
    private async Task ValidateTableAsync(NpgsqlConnection conn, (string Schema, string Name) table, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                ValidatedForeignKey key;
                lock (_lock)
                {
                    if (!_validating[table].TryDequeue(out key!))
                    {
                        _validating.Remove(table);
                        return;
                    }
                }

                var start = clock.Now;
                if (await ForeignKeyValidation.TryAddAndValidateAsync(conn, key, _adding, log, cancellationToken))
                {
                    clock.Add("foreign key", $"{key.Table}: {key.Name}", start);
                    lock (_lock)
                    {
                        _done.Add(key.Entry.Id);
                    }
                }
            }
        }
        catch
        {
            lock (_lock)
            {
                // The copy fails with this worker; what it held is left to no one.
                _validating.Remove(table);
            }

            throw;
        }
    }
}

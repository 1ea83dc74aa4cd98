namespace PgRelocate.Targets;

/// <summary>What a run's target holds now, as far as the run changed it, in the order a run changes it.</summary>
public enum TargetCondition
{
    /// <summary>Nothing was changed: the target holds what it held before the run.</summary>
    Untouched,

    /// <summary>Some of what it held was dropped (the emptying commits in batches that fit the lock table), not all.</summary>
    PartlyEmptied,

    /// <summary>What it held was dropped; nothing was written into it yet.</summary>
    Emptied,

    /// <summary>Writing into it began and did not finish: it may hold part of what was being written.</summary>
    PartlyWritten,

    /// <summary>Everything was written; what follows (statistics, verification, the switch) may not have run.</summary>
    Written,
}

/// <summary>
/// What a run has done to its target so far, told by the engines as it happens (<see cref="TargetPreparation"/>
/// once it has emptied the target, the restore and the copy when they begin and end writing) and read by the
/// caller when the run stops before its end, by a signal or a failure. One per run, carried by
/// <see cref="TargetOptions.Changes"/>. It only moves forward.
/// </summary>
public sealed class TargetChanges
{
    private int _condition;

    public TargetCondition Condition => (TargetCondition)Volatile.Read(ref _condition);

    /// <summary>Records that the target now holds <paramref name="condition"/>, unless it is already further on.</summary>
    public void Now(TargetCondition condition)
    {
        int current;
        do
        {
            current = Volatile.Read(ref _condition);
            if ((int)condition <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _condition, (int)condition, current) != current);
    }

    /// <summary>One sentence on what <paramref name="database"/> holds now, and what to do about it.</summary>
    public string Describe(string database) => Condition switch
    {
        TargetCondition.Untouched => $"The target {database} was not changed.",
        TargetCondition.PartlyEmptied => $"The target {database} is partly emptied: run the command again with --confirm {database} (migrate: --resume) to empty the rest and fill it.",
        TargetCondition.Emptied => $"The target {database} was emptied and nothing was written into it yet: run the command again to fill it.",
        TargetCondition.PartlyWritten => $"The target {database} may hold part of what was being written: run the command again with --confirm {database} (migrate: --resume) before anything uses it.",
        _ => $"The target {database} holds everything the run wrote; what was to follow (statistics, verification, the switch) did not finish.",
    };
}

namespace PgRelocate.Migration;

/// <summary>
/// How an instance migration moves databases that follow their source until they are switched (online): the
/// <see cref="InstanceRunner"/> runs each database's migration up to <see cref="WaitStep"/> one after another (one
/// copy at a time, with the instance's --jobs), lets those already there follow while the next copies, then, with
/// every database in that step, has this switch them together. Given by the layer that knows such steps
/// (Migration must not know of them).
/// </summary>
internal interface IInstanceSwitch
{
    /// <summary>The step a database's migration waits in until it is switched: the next database starts once the one before is in it.</summary>
    string WaitStep { get; }

    /// <summary>The steps, besides the check step, that every database's migration runs before anything changes anywhere.</summary>
    IReadOnlyList<IMigrationStep> Checks { get; }

    /// <summary>What blocks moving the databases of <paramref name="moving"/> (their migrations) at once from the source's server (its replication slots), or null.</summary>
    Task<string?> BlockerAsync(MigrationOptions options, IReadOnlyList<MigrationJournal> moving, CancellationToken cancellationToken);

    /// <summary>
    /// Once every database's migration is in <see cref="WaitStep"/>: waits until the instance migration is to be
    /// switched (asked, or caught up), then tells every one of <paramref name="children"/> to switch. Returns early,
    /// without switching, when <paramref name="ended"/> completes (a database's migration stopped).
    /// </summary>
    Task SwitchTogetherAsync(MigrationOptions options, MigrationJournal parent, IReadOnlyList<MigrationJournal> children, Task ended, Progress.IReporter reporter, CancellationToken cancellationToken);
}

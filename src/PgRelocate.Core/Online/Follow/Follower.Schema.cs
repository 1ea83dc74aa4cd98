namespace PgRelocate.Online.Follow;

/// <summary>What the follow says of the source's schema changes, and the enum values it adds when the target refuses a row for want of one.</summary>
internal sealed partial class Follower
{
    /// <summary>True when the follow carries the source's schema changes (a source from PostgreSQL 14 on, not --on-schema-change stop).</summary>
    public bool CarriesSchemaChanges => _carry is not null;

    /// <summary>The tables the follow cannot carry yet (see the warning naming them); empty when none waits.</summary>
    public IReadOnlyList<string> WaitingToCarry => _carry?.Blocked ?? [];

    /// <summary>
    /// True when the follow failed because the target's enum lacks a value the source added while following and the
    /// source's new values are now added (<see cref="SchemaObjects.AddedEnumValuesAsync"/>): the follow then applies
    /// again from the position stored in the target.
    /// </summary>
    private Task<bool> EnumValuesAddedAsync(Exception failure, CancellationToken cancellationToken) =>
        CarrySchemaChanges ? SchemaObjects.AddedEnumValuesAsync(failure, _source, _target, _reporter, cancellationToken) : Task.FromResult(false);
}

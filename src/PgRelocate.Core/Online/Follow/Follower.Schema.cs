namespace PgRelocate.Online.Follow;

/// <summary>The follow's part in carrying enum values: those it adds when the target refuses a row for want of one.</summary>
internal sealed partial class Follower
{
    /// <summary>
    /// True when the follow failed because the target's enum lacks a value the source added while following and the
    /// source's new values are now added (<see cref="SchemaObjects.AddedEnumValuesAsync"/>): the follow then applies
    /// again from the position stored in the target.
    /// </summary>
    private Task<bool> EnumValuesAddedAsync(Exception failure, CancellationToken cancellationToken) =>
        CarrySchemaChanges ? SchemaObjects.AddedEnumValuesAsync(failure, _source, _target, _reporter, cancellationToken) : Task.FromResult(false);
}

using Npgsql;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// Both sides' <see cref="SchemaFingerprint"/> once a pass when the cutover was asked had left nothing for the switch
/// (every difference of every kind made, a trigger the follow disabled taken as the switch re-enables it, no table the
/// stream has still to make): when neither side's has changed by the switch, the schema objects are still the
/// source's, and the switch compares them without pg_dump. Handed from the follow step to the cutover step
/// (<see cref="MigrationContext.HandOff{T}"/>); a run that did not hand it off compares in full.
/// </summary>
/// <param name="ColumnsSame">
/// Every column's default, NOT NULL, identity and generation was the source's once both fingerprints were read
/// (<see cref="Apply.ColumnAttributeCarry.SameAsync"/>): with neither side's changed by the switch, the cutover
/// need not compare them again.
/// </param>
/// <param name="SourceSession">
/// The pass's session on the source, kept open for the switch (named as the migration's own, which making the
/// source read-only leaves be): the fingerprint is read again there on a server process that has read it
/// already (about half the time a new one takes at 10,000 tables), and no session is opened in the downtime.
/// </param>
/// <param name="TargetSession">The pass's session on the target, kept open for the switch likewise.</param>
internal sealed record SettledSchema(SchemaFingerprint Source, SchemaFingerprint Target, bool ColumnsSame, NpgsqlConnection SourceSession, NpgsqlConnection TargetSession) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await SourceSession.DisposeAsync();
        await TargetSession.DisposeAsync();
    }

    /// <summary>
    /// At the switch, with every change applied: what the pass when the cutover was asked settled (taken from the
    /// follow step's hand-off, the caller's to dispose), if neither side's schema has changed since; else null, and
    /// the switch compares in full. Both fingerprints are read at once, on the pass's sessions.
    /// </summary>
    public static async Task<SettledSchema?> StillAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var settled = context.TakeHandOff<SettledSchema>();
        try
        {
            if (settled is null || !context.Options.CarrySchemaChanges)
            {
                return null;
            }

            SchemaFingerprint[] read;
            try
            {
                read = await Task.WhenAll(SchemaFingerprint.ReadAsync(settled.SourceSession, cancellationToken), SchemaFingerprint.ReadAsync(settled.TargetSession, cancellationToken));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && Failures.Operational(e) is { } failure)
            {
                // A session a server ended since (an idle session's timeout): the switch compares in full, on new ones.
                context.Reporter.Debug($"The schema pass's sessions could not read the fingerprints again ({failure.Message}): the switch compares both schemas in full.");
                return null;
            }

            if (settled.Source.Same(read[0]) && settled.Target.SameObjects(read[1]))
            {
                (var still, settled) = (settled, null);
                return still;
            }

            return null;
        }
        finally
        {
            if (settled is not null)
            {
                await settled.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// What a pass that left nothing for the switch settles: the source's fingerprint read before it, the target's
    /// now, and then whether every column's attributes are the source's (compared after both reads, so that a change
    /// on either side after its read shows at the switch as a changed fingerprint).
    /// </summary>
    public static async Task<SettledSchema> SettleAsync(NpgsqlConnection source, NpgsqlConnection target, SchemaFingerprint sourceSchema, CancellationToken cancellationToken)
    {
        var targetSchema = await SchemaFingerprint.ReadAsync(target, cancellationToken);
        return new SettledSchema(sourceSchema, targetSchema, await Apply.ColumnAttributeCarry.SameAsync(source, target, cancellationToken), source, target);
    }

    /// <summary>The pass's source session is the migration's own: making the source read-only leaves it be (see <see cref="SourceSession"/>).</summary>
    public static string SourceName(MigrationContext context) => HeldMigrationLock.ApplicationName(context.Journal.Id, "schema");
}

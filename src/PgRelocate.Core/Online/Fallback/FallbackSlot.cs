using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online.Follow;
using PgRelocate.Online.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Online.Fallback;

/// <summary>
/// The way back by a replication slot, where the target's login role may replicate and its wal_level is logical
/// (<see cref="PossibleAsync"/>): a publication of the target's tables and a pgoutput slot on the target, created at
/// the switch while nothing writes there yet, read by the forward path's own follow and apply (<see cref="Follower"/>)
/// reversed: the target is the stream's source, the old source the database it applies to, which keeps the
/// position in the tool's schema there under the slot's name, in the same transactions as the rows. The choice is
/// recorded in the journal (<see cref="FallbackCaptureStep.By"/>) before anything is created, so a run after a kill,
/// `rollback` and `finish` find it; every part is safe to repeat.
/// </summary>
internal static class FallbackSlot
{
    /// <summary>What <see cref="FallbackCaptureStep.By"/> says of a way back by a slot.</summary>
    public const string BySlot = "slot";

    /// <summary>What <see cref="FallbackCaptureStep.By"/> says of a way back by triggers and a queue.</summary>
    public const string ByTriggers = "triggers";

    /// <summary>The slot's name on the target, and its publication's: the forward slot's name with "_back".</summary>
    public static string Name(string migrationId) => OnlineNames.Slot(migrationId) + "_back";

    /// <summary>True when the way back of <paramref name="journal"/> follows the target by a slot.</summary>
    public static bool Chosen(MigrationJournal journal) => journal.Output(FallbackCaptureStep.StepName, FallbackCaptureStep.By) == BySlot;

    /// <summary>Whether the target allows a slot: a role that may replicate, wal_level logical, a slot and a WAL sender free.</summary>
    public static async Task<bool> PossibleAsync(NpgsqlConnection target, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<bool?>(target, FallbackSql.SlotPossible, cancellationToken) == true;

    /// <summary>
    /// Creates on the target what a run before did not: REPLICA IDENTITY FULL on the tables without a key (handed
    /// to <paramref name="recordIdentity"/> first, to be undone even after a kill), the publication of every table,
    /// then the slot, whose start is the first change committed after it.
    /// </summary>
    public static async Task CreateAsync(NpgsqlConnection target, string name, Action<IReadOnlyList<string>> recordIdentity, CancellationToken cancellationToken)
    {
        var noIdentity = await SourceSide.NoIdentityTablesAsync(target, cancellationToken);
        if (noIdentity.Count > 0)
        {
            recordIdentity(noIdentity);
            await SourceSide.SetReplicaIdentityFullAsync(target, noIdentity, cancellationToken);
        }

        var literal = Db.Literal(name);
        if (await Db.ScalarAsync<bool>(target, $"SELECT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = {literal})", cancellationToken) is false)
        {
            await SourceSide.CreatePublicationAsync(target, name, await SourceSide.TablesAsync(target, cancellationToken), cancellationToken);
        }

        if (!await ExistsAsync(target, name, cancellationToken))
        {
            await Db.ExecuteAsync(target, $"SELECT pg_catalog.pg_create_logical_replication_slot({literal}, 'pgoutput')", cancellationToken);
        }
    }

    /// <summary>True while the slot is on the target.</summary>
    public static async Task<bool> ExistsAsync(NpgsqlConnection target, string name, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<bool>(target, $"SELECT EXISTS (SELECT FROM pg_catalog.pg_replication_slots WHERE slot_name = {Db.Literal(name)})", cancellationToken);

    /// <summary>Drops the slot and the publication from the target and undoes the REPLICA IDENTITY FULL it set; safe to repeat.</summary>
    public static Task RemoveAsync(MigrationJournal journal, PgConnectionInfo target, CancellationToken cancellationToken) =>
        SourceSide.RemoveAsync(target, Name(journal.Id), Name(journal.Id), journal.Step(FallbackCaptureStep.StepName).Get(FallbackCaptureStep.ReplicaIdentityFull) ?? [], cancellationToken, "target");

    /// <summary>
    /// The forward path's follower, reversed: from the target's slot into the old source. <paramref name="limited"/>:
    /// it stops once the slot holds more WAL than --max-fallback-queue, whatever the apply waits for (not the
    /// rollback's, which must apply all).
    /// </summary>
    public static Follower FollowerFor(MigrationContext context, bool limited) =>
        new(context.Options.Into.Connection, context.Options.Source, Name(context.Journal.Id), Name(context.Journal.Id), context.Folder, context.Reporter)
        {
            Phase = OnlinePhases.WayBack,
            Sides = FollowSides.Back,
            MaxRetainedBytes = limited ? context.Options.MaxFallbackQueue : null,
            CarrySchemaChanges = context.Options.CarrySchemaChanges,
            Lanes = context.Options.Into.Jobs,
        };

    /// <summary>
    /// A rollback's last changes, the target read-only: a marker written into the target's WAL (as the forward
    /// cutover writes one into the source's), and everything before it applied to the old source. Returns the
    /// changes applied.
    /// </summary>
    public static async Task<long> ApplyLastAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        Func<FollowPoint, bool> applied;
        await using (var conn = await Db.OpenAsync(context.Options.Into.Connection, "target", cancellationToken))
        {
            // Where the slot stands and where the target's WAL ends, in the log: what a rollback had left to apply.
            var at = await Db.ScalarAsync<string>(conn, $"SELECT coalesce(confirmed_flush_lsn::text, '-') || ' (the target''s WAL ends at ' || pg_catalog.pg_current_wal_lsn() || ')' FROM pg_catalog.pg_replication_slots WHERE slot_name = {Db.Literal(Name(context.Journal.Id))}", cancellationToken);
            context.Reporter.Info($"Applying the target's last changes to the old source: its slot confirmed up to {at}.");
            applied = await OnlineCutoverStep.MarkLastChangeAsync(conn, context.Reporter, cancellationToken);
        }

        await using var follower = FollowerFor(context, limited: false);
        await follower.RunAsync(applied, cancellationToken);
        return follower.Changes;
    }
}

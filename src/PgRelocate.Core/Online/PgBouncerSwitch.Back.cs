using PgRelocate.Errors;
using PgRelocate.Migration;

namespace PgRelocate.Online;

/// <summary>
/// A rollback behind PgBouncer: the entry PAUSEd before the target becomes read-only, and once the old source takes
/// writes again its entry put back as it was before the cutover (the application's own server, user and password,
/// from the file the cutover kept), RELOADed and RESUMEd. Where PgBouncer is stays in the way back's record, saved at
/// once, so a run again after a kill goes on from there, and a rollback that fails RESUMEs where the entry points.
/// </summary>
internal static partial class PgBouncerSwitch
{
    /// <summary>
    /// PAUSEs the entry for a rollback, at most --max-pause (again after a kill: PgBouncer may not have had it); null
    /// once paused (or turned back already by a run before), else why it gave up, RESUMEd at the target: nothing was
    /// rolled back.
    /// </summary>
    public static async Task<string?> TryPauseBackAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var turn = Rollback(context);
        if (turn.Record.Get(State) is PgBouncerState.Repointed or PgBouncerState.Switched)
        {
            return null;
        }

        var before = CutoverKept(context);
        if (!File.Exists(before))
        {
            return $"PgBouncer's entry cannot be put back: {before}, the file as it was before the cutover, is gone; nothing was rolled back. Put it back, then run the rollback again: the way back goes on";
        }

        try
        {
            return await PauseAsync(context, turn, cancellationToken);
        }
        catch (PgRelocateException e)
        {
            // The console unreachable, or its login refused (a resumed run not given its password): the way back is
            // worth more than this run of the rollback, which ends here with the reason.
            return $"{e.Message.TrimEnd('.')}; nothing was rolled back. {turn.Again} (a resumed migration needs the console's password: --pgbouncer URL, PGRELOCATE_PGBOUNCER or libpq's password file)";
        }
    }

    /// <summary>The rollback's turn of the entry back to the old source, RELOAD and RESUME (<see cref="TurnAsync"/>); nothing when a run before did it.</summary>
    public static async Task<TimeSpan?> SwitchBackAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var turn = Rollback(context);
        return turn.Record.Get(State) == PgBouncerState.Switched ? null : await TurnAsync(context, turn, cancellationToken);
    }

    /// <summary>A rollback that stops: PgBouncer RESUMEd where its entry points (the target), the file put back if it was rewritten.</summary>
    public static Task ResumeBackLeftAsync(MigrationContext context, CancellationToken cancellationToken) =>
        ResumeLeftAsync(context, Rollback(context), cancellationToken);

    /// <summary>True when the rollback turned PgBouncer's entry back to the old source.</summary>
    public static bool SwitchedBack(MigrationJournal journal) =>
        journal?.Output(Steps.FallbackStep.StepName, State) == PgBouncerState.Switched;

    /// <summary>The file as the cutover found it, before it repointed the entry.</summary>
    private static string CutoverKept(MigrationContext context) => $"{context.Options.PgBouncer?.IniFile}.before-{context.Journal.Id}";

    /// <summary>A rollback's turn: from the target back to the old source, kept in the way back's record.</summary>
    private static PgBouncerTurn Rollback(MigrationContext context)
    {
        var old = context.Options.Source;
        var before = CutoverKept(context);
        var keptAs = $"{context.Options.PgBouncer?.IniFile}.before-rollback-{context.Journal.Id}";
        return new PgBouncerTurn
        {
            Record = context.Journal.Step(Steps.FallbackStep.StepName),
            From = "target",
            To = "old source",
            FromServer = context.Options.Into.Connection,
            ToServer = (old.Host, old.Port, old.Database),
            KeptAs = keptAs,
            Rewrite = pgbouncer => Poolers.PgBouncerIni.PutBack(pgbouncer.IniFile, pgbouncer.Entry, before, keptAs),
            NothingDone = "nothing was rolled back",
            Again = $"The old source goes on following the target: run 'pgrelocate rollback {context.Journal.Id}' again once they have ended",
            AfterFailedReload = $"the old source holds every change and takes writes, the target refuses them. Fix what the log names, then point the entry at the old source as {before} has it, and RELOAD",
        };
    }
}

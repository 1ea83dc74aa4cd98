using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Poolers;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// The cutover behind PgBouncer (<c>--pgbouncer</c>): the application's entry is PAUSEd before the source becomes
/// read-only (new transactions wait at PgBouncer, running ones finish), and once the target has taken over (with
/// --fallback, once the way back's capture is on it too) its entry is rewritten to the target, PgBouncer RELOADs it
/// and RESUMEs. What is paused is kept in the follow step's record and saved at once, so whatever ends the run (a
/// failure, cancel, kill -9 then cancel) RESUMEs the application at the source: with the file as it was before, put
/// back if it had been rewritten. A rollback turns the entry back the same way: the entry PAUSEd before the target
/// becomes read-only, and once the old source takes writes again its entry put back as it was before the cutover (the
/// application's own server, user and password, from the file the cutover kept), RELOADed and RESUMEd. Where PgBouncer
/// is stays in the way back's record, saved at once, so a run again after a kill goes on from there, and a rollback
/// that fails RESUMEs where the entry points.
/// </summary>
internal static class PgBouncerSwitch
{
    /// <summary>Where PgBouncer is, in the record of the step that turns it (the follow's, the way back's): paused, repointed (file rewritten, not yet resumed), switched, resumed.</summary>
    public static readonly JournalKey<PgBouncerState?> State = JournalKey.State<PgBouncerState>("pgbouncer");

    private static readonly JournalKey<DateTimeOffset?> PausedAt = JournalKey.Time("pgbouncerPausedAt");

    /// <summary>The configuration file as it was before the turn rewrote it.</summary>
    private static readonly JournalKey<string> Kept = JournalKey.Text("pgbouncerKeptFile");

    /// <summary>
    /// PAUSEs the entry for the cutover, waiting at most --max-pause for the transactions running through PgBouncer.
    /// Returns null once paused; else RESUMEs at once and returns why it gave up (the sessions that held it): nothing changed.
    /// </summary>
    public static Task<string?> TryPauseAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pgbouncer = context.Options.PgBouncer ?? throw new InvalidOperationException("No --pgbouncer.");
        return context.Options.Into.Connection.Get("password") is null
            ? Task.FromResult<string?>($"PgBouncer's entry '{pgbouncer.Entry}' must carry the target's password, and the migration's target URL has none; nothing was switched. The migration goes on following: cutover without --pgbouncer, or migrate --resume with a target URL that holds it")
            : PauseAsync(context, Cutover(context), cancellationToken);
    }

    /// <summary>
    /// Repoints the entry at the target (the file as it was kept beside it), RELOADs and RESUMEs; returns how long
    /// the application waited at PgBouncer. A failed RELOAD puts the file back and fails the cutover (whose undo
    /// resumes the application at the source).
    /// </summary>
    /// <param name="logins">The console's logins made for it ahead (<see cref="LogIn"/>); null: each command logs in.</param>
    public static Task<TimeSpan> SwitchAsync(MigrationContext context, CancellationToken cancellationToken, SwitchLogins? logins = null) =>
        TurnAsync(context, Cutover(context), cancellationToken, logins);

    /// <summary>
    /// Logs in to PgBouncer's console now for the switch's RELOAD (with the read of what PgBouncer then runs) and its
    /// RESUME, so that the logins are made while the switch's phases before them run: each is a psql and a few round
    /// trips (with the tool 50 ms from the console, 0.38 to 0.39 s for the two when made at the end of the switch).
    /// </summary>
    public static SwitchLogins LogIn(MigrationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pgbouncer = context.Options.PgBouncer ?? throw new InvalidOperationException("No --pgbouncer.");
        var console = PgBouncerConsole.For(pgbouncer.Admin, context.Binaries);
        return new SwitchLogins(console.LogIn(), console.LogIn());
    }

    /// <summary>
    /// The undo: when the journal says PgBouncer is paused (or its file rewritten and not yet resumed), puts the file
    /// back, RELOADs and RESUMEs at the source. Without the console (a cancel given no password for it) it says how.
    /// </summary>
    public static Task ResumeAtSourceAsync(MigrationContext context, CancellationToken cancellationToken) =>
        ResumeLeftAsync(context, Cutover(context), cancellationToken);

    /// <summary>True when the journal says the migration left PgBouncer paused (at its cutover, or at a rollback).</summary>
    public static bool LeftPaused(MigrationJournal journal) =>
        journal?.Output(Steps.FollowStep.StepName, State) is PgBouncerState.Paused or PgBouncerState.Repointed
        || journal?.Output(Steps.FallbackStep.StepName, State) is PgBouncerState.Paused or PgBouncerState.Repointed;

    /// <summary>PAUSEs the entry for <paramref name="turn"/>; null once paused, else why it gave up, RESUMEd where it was.</summary>
    private static async Task<string?> PauseAsync(MigrationContext context, PgBouncerTurn turn, CancellationToken cancellationToken)
    {
        var pgbouncer = context.Options.PgBouncer ?? throw new InvalidOperationException("No --pgbouncer.");
        var console = PgBouncerConsole.For(pgbouncer.Admin, context.Binaries);
        var record = turn.Record;

        // Recorded before PAUSE is sent: PgBouncer holds new transactions from that moment on. A run again after a
        // kill sends it again (PgBouncer may not have had it), and the pause is measured from the first.
        if (record.Get(State) != PgBouncerState.Paused || record.Get(PausedAt) is null)
        {
            record.Set(PausedAt, DateTimeOffset.UtcNow);
        }

        record.Set(State, PgBouncerState.Paused);
        context.Journal.Save();
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(pgbouncer.MaxPause);
        try
        {
            try
            {
                await console.ExecuteAsync("PAUSE " + PgBouncerConsole.Quote(pgbouncer.Entry), bound.Token);
            }
            catch (PgBouncerRefusedException e) when (e.Error.Contains("already", StringComparison.Ordinal))
            {
                // Paused by a run before this one, killed: it stays so.
            }

            context.Reporter.Info($"PgBouncer's entry '{pgbouncer.Entry}' is paused: the application's new transactions wait there.");
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var holders = await HoldersAsync(turn.FromServer, turn.From, cancellationToken);
            await ResumeAsync(context, turn, console, pgbouncer, cancellationToken);
            return $"PgBouncer's PAUSE of '{pgbouncer.Entry}' waited {pgbouncer.MaxPause.TotalSeconds:0.#}s (--max-pause) for transactions that did not end{holders}; the application was resumed at the {turn.From} and {turn.NothingDone}. {turn.Again}";
        }
        catch
        {
            await ResumeAsync(context, turn, console, pgbouncer, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Rewrites the entry for <paramref name="turn"/> (the file as it was kept beside it), RELOADs, checks that
    /// PgBouncer runs it, and RESUMEs; returns how long the application waited at PgBouncer. A failed RELOAD puts the
    /// file back (the entry where it was, still paused) and throws.
    /// </summary>
    private static async Task<TimeSpan> TurnAsync(MigrationContext context, PgBouncerTurn turn, CancellationToken cancellationToken, SwitchLogins? logins = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pgbouncer = context.Options.PgBouncer ?? throw new InvalidOperationException("No --pgbouncer.");
        var console = PgBouncerConsole.For(pgbouncer.Admin, context.Binaries);
        var record = turn.Record;
        var kept = turn.KeptAs;
        turn.Rewrite(pgbouncer);
        record.Set(Kept, kept);
        record.Set(State, PgBouncerState.Repointed);
        context.Journal.Save();
        try
        {
            // PgBouncer may answer RELOAD when it could not read the file (1.18 says so only in its log)
            // and then runs the entry as it was: what it runs is read back before the application is resumed.
            var (host, port, database) = turn.ToServer;
            var running = (await console.ExecuteThenShowAsync("RELOAD", "DATABASES", cancellationToken, logins?.Reload)).FirstOrDefault(d => d.GetValueOrDefault("name") == pgbouncer.Entry);
            if (running is null || !PgBouncerChecks.Runs(running, host, port, database))
            {
                throw new PgRelocateException($"PgBouncer did not take the rewritten entry '{pgbouncer.Entry}' on RELOAD: it runs {(running is null ? "no such entry" : PgBouncerChecks.Where(running))}. Its log says why (often: its account cannot read {pgbouncer.IniFile}). The file was put back and the application resumed at the {turn.From}; {turn.AfterFailedReload}");
            }
        }
        catch
        {
            PgBouncerIni.Restore(pgbouncer.IniFile, kept);
            record.Set(State, PgBouncerState.Paused);
            context.Journal.Save();
            try
            {
                await console.ExecuteAsync("RELOAD", CancellationToken.None);
            }
            catch (PgRelocateException e)
            {
                // The resume where it was follows (the undo); the first failure is the one to report.
                context.Reporter.Warn($"PgBouncer's RELOAD of {pgbouncer.IniFile} as it was failed too: {e.Message}");
            }

            throw;
        }

        // A run again after a kill between RESUME and its record finds the entry resumed already.
        await ResumeEntryAsync(console, pgbouncer, cancellationToken, logins?.Resume);
        record.Set(State, PgBouncerState.Switched);
        context.Journal.Save();
        var paused = DateTimeOffset.UtcNow - (record.Get(PausedAt) ?? throw new InvalidOperationException("The record says PgBouncer is paused, and not since when."));
        context.Reporter.Info($"PgBouncer's entry '{pgbouncer.Entry}' points at the {turn.To} and is resumed: the application waited {paused.TotalSeconds:0.00}s ({pgbouncer.IniFile} as it was: {kept}).");
        return paused;
    }

    /// <summary>
    /// When <paramref name="turn"/>'s record says PgBouncer is paused (or its file rewritten and not yet resumed):
    /// puts the file back, RELOADs and RESUMEs where the entry was. Without the console (a cancel given no password
    /// for it) it says how.
    /// </summary>
    private static async Task ResumeLeftAsync(MigrationContext context, PgBouncerTurn turn, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var state = turn.Record.Get(State);
        if (state is not (PgBouncerState.Paused or PgBouncerState.Repointed) || context.Options.PgBouncer is not { } pgbouncer)
        {
            return;
        }

        try
        {
            var console = PgBouncerConsole.For(pgbouncer.Admin, context.Binaries);
            if (state == PgBouncerState.Repointed && turn.Record.Get(Kept) is { } kept && File.Exists(kept))
            {
                PgBouncerIni.Restore(pgbouncer.IniFile, kept);
                await console.ExecuteAsync("RELOAD", cancellationToken);
            }

            await ResumeAsync(context, turn, console, pgbouncer, cancellationToken);
            context.Reporter.Info($"PgBouncer's entry '{pgbouncer.Entry}' is resumed at the {turn.From}.");
        }
        catch (PgRelocateException e)
        {
            context.Reporter.Warn($"PgBouncer's entry '{pgbouncer.Entry}' may still be paused: {e.Message} Run 'pgrelocate cancel {context.Journal.Id} --pgbouncer ADMIN_URL', or RESUME {pgbouncer.Entry}; on its console.");
        }
    }

    private static async Task ResumeAsync(MigrationContext context, PgBouncerTurn turn, PgBouncerConsole console, PgBouncerOptions pgbouncer, CancellationToken cancellationToken)
    {
        await ResumeEntryAsync(console, pgbouncer, cancellationToken);
        turn.Record.Set(State, PgBouncerState.Resumed);
        context.Journal.Save();
    }

    /// <summary>RESUMEs the entry; one that is not paused (resumed already) is left so.</summary>
    private static async Task ResumeEntryAsync(PgBouncerConsole console, PgBouncerOptions pgbouncer, CancellationToken cancellationToken, PgBouncerLogin? login = null)
    {
        try
        {
            await console.ExecuteAsync("RESUME " + PgBouncerConsole.Quote(pgbouncer.Entry), cancellationToken, login);
        }
        catch (PgBouncerRefusedException e) when (e.Error.Contains("is not paused", StringComparison.Ordinal))
        {
        }
    }

    /// <summary>The oldest open transactions on the side the entry points at, for the message: pid, user, age, state (never their SQL).</summary>
    private static async Task<string> HoldersAsync(PgConnectionInfo server, string side, CancellationToken cancellationToken)
    {
        try
        {
            await using var conn = await Db.OpenAsync(server, side, cancellationToken);
            var rows = await Db.ListAsync(conn, CatalogSql.Load("Online/PauseHolders.sql"), r => $"pid {r.GetInt32(0)} ({r.GetString(1)}, open {r.GetString(2)}s, {r.GetString(3)})", cancellationToken);
            return rows.Count == 0 ? "" : ": " + string.Join(", ", rows);
        }
        catch (PgRelocateException)
        {
            return "";
        }
    }

    /// <summary>The cutover's turn: from the source to the target, kept in the follow step's record.</summary>
    private static PgBouncerTurn Cutover(MigrationContext context)
    {
        var target = context.Options.Into.Connection;
        return new PgBouncerTurn
        {
            Record = context.Journal.Step(Steps.FollowStep.StepName),
            From = "source",
            To = "target",
            FromServer = context.Options.Source,
            ToServer = (target.Host, target.Port, target.Database),
            KeptAs = $"{context.Options.PgBouncer?.IniFile}.before-{context.Journal.Id}",
            Rewrite = pgbouncer => PgBouncerIni.Repoint(pgbouncer.IniFile, pgbouncer.Entry, target, $"{pgbouncer.IniFile}.before-{context.Journal.Id}"),
            NothingDone = "nothing was switched",
            Again = "The migration goes on following: run the cutover again once they have ended, or give a longer --max-pause",
            AfterFailedReload = $"nothing was switched. Fix what the log names, then 'pgrelocate migrate --resume {context.Journal.Id} --pgbouncer ADMIN_URL'",
        };
    }

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
    /// <param name="logins">The console's logins made for it ahead (<see cref="LogIn"/>); null: each command logs in.</param>
    public static async Task<TimeSpan?> SwitchBackAsync(MigrationContext context, CancellationToken cancellationToken, SwitchLogins? logins = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var turn = Rollback(context);
        return turn.Record.Get(State) == PgBouncerState.Switched ? null : await TurnAsync(context, turn, cancellationToken, logins);
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

/// <summary>
/// One turn of the application's entry: the step record that keeps where PgBouncer is, the side it leaves and the
/// side it goes to (the cutover's: source to target; a rollback's: target to old source), and how its file is rewritten.
/// </summary>
internal sealed record PgBouncerTurn
{
    public required StepRecord Record { get; init; }

    /// <summary>The side the entry leaves, in words ("source").</summary>
    public required string From { get; init; }

    /// <summary>The side the entry goes to, in words ("target").</summary>
    public required string To { get; init; }

    /// <summary>The server the entry leaves, where the transactions holding a PAUSE run.</summary>
    public required PgConnectionInfo FromServer { get; init; }

    /// <summary>Where PgBouncer must run the entry once rewritten.</summary>
    public required (string Host, int Port, string Database) ToServer { get; init; }

    /// <summary>Where the file as it was is kept.</summary>
    public required string KeptAs { get; init; }

    public required Action<PgBouncerOptions> Rewrite { get; init; }

    /// <summary>What a turn given up did not do ("nothing was switched").</summary>
    public required string NothingDone { get; init; }

    /// <summary>What goes on after a turn given up, and how to try again.</summary>
    public required string Again { get; init; }

    /// <summary>Where things stand, and what to do, once PgBouncer did not take the rewritten file.</summary>
    public required string AfterFailedReload { get; init; }
}

/// <summary>Where the application's entry in PgBouncer is, as the follow step's record says (<see cref="PgBouncerSwitch.State"/>).</summary>
internal enum PgBouncerState
{
    /// <summary>PAUSEd (recorded just before PAUSE is sent): its new transactions wait.</summary>
    Paused,

    /// <summary>The file rewritten to the target, not yet RESUMEd.</summary>
    Repointed,

    /// <summary>Pointing at the target and RESUMEd.</summary>
    Switched,

    /// <summary>RESUMEd at the source.</summary>
    Resumed,
}

/// <summary>The console's logins for a switch's RELOAD and its RESUME (<see cref="PgBouncerSwitch.LogIn"/>); disposed unused, they end.</summary>
internal sealed record SwitchLogins(PgBouncerLogin Reload, PgBouncerLogin Resume) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await Reload.DisposeAsync();
        await Resume.DisposeAsync();
    }
}

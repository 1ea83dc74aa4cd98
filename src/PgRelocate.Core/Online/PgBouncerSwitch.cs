using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Poolers;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// The cutover behind PgBouncer (<c>--pgbouncer</c>): the application's entry is PAUSEd before the source becomes
/// read-only (new transactions wait at PgBouncer, running ones finish), and once the target has taken over its
/// entry is rewritten to the target, PgBouncer RELOADs it and RESUMEs. What is paused is kept in the follow
/// step's record and saved at once, so whatever ends the run (a failure, cancel, kill -9 then cancel) RESUMEs the
/// application at the source: with the file as it was before, put back if it had been rewritten.
/// </summary>
internal static class PgBouncerSwitch
{
    /// <summary>The follow step's output saying where PgBouncer is: paused, repointed (file rewritten, not yet resumed), switched, resumed.</summary>
    public static readonly JournalKey<PgBouncerState?> State = JournalKey.State<PgBouncerState>("pgbouncer");

    private static readonly JournalKey<DateTimeOffset?> PausedAt = JournalKey.Time("pgbouncerPausedAt");

    /// <summary>The configuration file as it was before the switch rewrote it.</summary>
    private static readonly JournalKey<string> Kept = JournalKey.Text("pgbouncerKeptFile");

    /// <summary>
    /// PAUSEs the entry, waiting at most --max-pause for the transactions running through PgBouncer. Returns null
    /// once paused; else RESUMEs at once and returns why it gave up (the sessions that held it): nothing changed.
    /// </summary>
    public static async Task<string?> TryPauseAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pgbouncer = context.Options.PgBouncer ?? throw new InvalidOperationException("No --pgbouncer.");
        var console = PgBouncerConsole.For(pgbouncer.Admin, context.Binaries);
        var record = context.Record;
        if (context.Options.Into.Connection.Get("password") is null)
        {
            return $"PgBouncer's entry '{pgbouncer.Entry}' must carry the target's password, and the migration's target URL has none; nothing was switched. The migration goes on following: cutover without --pgbouncer, or migrate --resume with a target URL that holds it";
        }

        // Recorded before PAUSE is sent: PgBouncer holds new transactions from that moment on.
        record.Set(State, PgBouncerState.Paused);
        record.Set(PausedAt, DateTimeOffset.UtcNow);
        context.Journal.Save();
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(pgbouncer.MaxPause);
        try
        {
            await console.ExecuteAsync("PAUSE " + PgBouncerConsole.Quote(pgbouncer.Entry), bound.Token);
            context.Reporter.Info($"PgBouncer's entry '{pgbouncer.Entry}' is paused: the application's new transactions wait there.");
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var holders = await HoldersAsync(context.Options.Source, cancellationToken);
            await ResumeAsync(context, console, pgbouncer, cancellationToken);
            return $"PgBouncer's PAUSE of '{pgbouncer.Entry}' waited {pgbouncer.MaxPause.TotalSeconds:0.#}s (--max-pause) for transactions that did not end{holders}; the application was resumed at the source and nothing was switched. The migration goes on following: run the cutover again once they have ended, or give a longer --max-pause";
        }
        catch
        {
            await ResumeAsync(context, console, pgbouncer, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Repoints the entry at the target (the file as it was kept beside it), RELOADs and RESUMEs; returns how long
    /// the application waited at PgBouncer. A failed RELOAD puts the file back and fails the cutover (whose undo
    /// resumes the application at the source).
    /// </summary>
    public static async Task<TimeSpan> SwitchAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pgbouncer = context.Options.PgBouncer ?? throw new InvalidOperationException("No --pgbouncer.");
        var console = PgBouncerConsole.For(pgbouncer.Admin, context.Binaries);
        var follow = context.Journal.Step(Steps.FollowStep.StepName);
        var kept = $"{pgbouncer.IniFile}.before-{context.Journal.Id}";
        PgBouncerIni.Repoint(pgbouncer.IniFile, pgbouncer.Entry, context.Options.Into.Connection, kept);
        follow.Set(Kept, kept);
        follow.Set(State, PgBouncerState.Repointed);
        context.Journal.Save();
        try
        {
            // PgBouncer may answer RELOAD when it could not read the file (1.18 says so only in its log)
            // and then runs the entry as it was: what it runs is read back before the application is resumed.
            await console.ExecuteAsync("RELOAD", cancellationToken);
            var target = context.Options.Into.Connection;
            var running = (await console.ShowAsync("DATABASES", cancellationToken)).FirstOrDefault(d => d.GetValueOrDefault("name") == pgbouncer.Entry);
            if (running is null || !PgBouncerChecks.Runs(running, target.Host, target.Port, target.Database))
            {
                throw new PgRelocateException($"PgBouncer did not take the rewritten entry '{pgbouncer.Entry}' on RELOAD: it runs {(running is null ? "no such entry" : PgBouncerChecks.Where(running))}. Its log says why (often: its account cannot read {pgbouncer.IniFile}). The file was put back and the application resumed at the source; nothing was switched. Fix what the log names, then 'pgrelocate migrate --resume {context.Journal.Id} --pgbouncer ADMIN_URL'");
            }
        }
        catch
        {
            PgBouncerIni.Restore(pgbouncer.IniFile, kept);
            follow.Set(State, PgBouncerState.Paused);
            context.Journal.Save();
            try
            {
                await console.ExecuteAsync("RELOAD", CancellationToken.None);
            }
            catch (PgRelocateException e)
            {
                // The resume at the source follows (the cutover's undo); the first failure is the one to report.
                context.Reporter.Warn($"PgBouncer's RELOAD of {pgbouncer.IniFile} as it was failed too: {e.Message}");
            }

            throw;
        }

        await console.ExecuteAsync("RESUME " + PgBouncerConsole.Quote(pgbouncer.Entry), cancellationToken);
        follow.Set(State, PgBouncerState.Switched);
        context.Journal.Save();
        var paused = DateTimeOffset.UtcNow - (follow.Get(PausedAt) ?? throw new InvalidOperationException("The follow's record says PgBouncer is paused, and not since when."));
        context.Reporter.Info($"PgBouncer's entry '{pgbouncer.Entry}' points at the target and is resumed: the application waited {paused.TotalSeconds:0.00}s ({pgbouncer.IniFile} as it was: {kept}).");
        return paused;
    }

    /// <summary>
    /// The undo: when the journal says PgBouncer is paused (or its file rewritten and not yet resumed), puts the file
    /// back, RELOADs and RESUMEs at the source. Without the console (a cancel given no password for it) it says how.
    /// </summary>
    public static async Task ResumeAtSourceAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var state = context.Record.Get(State);
        if (state is not (PgBouncerState.Paused or PgBouncerState.Repointed) || context.Options.PgBouncer is not { } pgbouncer)
        {
            return;
        }

        try
        {
            var console = PgBouncerConsole.For(pgbouncer.Admin, context.Binaries);
            if (state == PgBouncerState.Repointed && context.Record.Get(Kept) is { } kept && File.Exists(kept))
            {
                PgBouncerIni.Restore(pgbouncer.IniFile, kept);
                await console.ExecuteAsync("RELOAD", cancellationToken);
            }

            await ResumeAsync(context, console, pgbouncer, cancellationToken);
            context.Reporter.Info($"PgBouncer's entry '{pgbouncer.Entry}' is resumed at the source.");
        }
        catch (PgRelocateException e)
        {
            context.Reporter.Warn($"PgBouncer's entry '{pgbouncer.Entry}' may still be paused: {e.Message} Run 'pgrelocate cancel {context.Journal.Id} --pgbouncer ADMIN_URL', or RESUME {pgbouncer.Entry}; on its console.");
        }
    }

    /// <summary>True when the journal says the migration left PgBouncer paused.</summary>
    public static bool LeftPaused(MigrationJournal journal) =>
        journal?.Output(Steps.FollowStep.StepName, State) is PgBouncerState.Paused or PgBouncerState.Repointed;

    private static async Task ResumeAsync(MigrationContext context, PgBouncerConsole console, PgBouncerOptions pgbouncer, CancellationToken cancellationToken)
    {
        try
        {
            await console.ExecuteAsync("RESUME " + PgBouncerConsole.Quote(pgbouncer.Entry), cancellationToken);
        }
        catch (PgBouncerRefusedException e) when (e.Error.Contains("is not paused", StringComparison.Ordinal))
        {
        }

        context.Record.Set(State, PgBouncerState.Resumed);
        context.Journal.Save();
    }

    /// <summary>The oldest open transactions on the source, for the message: pid, user, age, state (never their SQL).</summary>
    private static async Task<string> HoldersAsync(PgConnectionInfo source, CancellationToken cancellationToken)
    {
        try
        {
            await using var conn = await Db.OpenAsync(source, "source", cancellationToken);
            var rows = await Db.ListAsync(conn, CatalogSql.Load("Online/PauseHolders.sql"), r => $"pid {r.GetInt32(0)} ({r.GetString(1)}, open {r.GetString(2)}s, {r.GetString(3)})", cancellationToken);
            return rows.Count == 0 ? "" : ": " + string.Join(", ", rows);
        }
        catch (PgRelocateException)
        {
            return "";
        }
    }
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

using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Online.Fallback;
using PgRelocate.Progress;

namespace PgRelocate.Online.Steps;

/// <summary>
/// With --fallback, after the switch: keeps the old source in step with the target (<see cref="FallbackFollower"/>)
/// until `pgrelocate rollback ID` switches back or `pgrelocate finish ID` (or `cancel`) ends it, or its queue
/// outgrows --max-fallback-queue (then it ends itself: removed from both sides, the target working on). A kill
/// and a resume lose nothing and apply nothing twice: the old source stores what it holds with the rows.
/// </summary>
public sealed class FallbackStep : IMigrationStep
{
    public const string StepName = "way back";

    /// <summary>How the way back ended: as asked (<see cref="FallbackEnd"/>'s names, "Rollback", "Finish"), or <see cref="EndedItself"/>.</summary>
    public static readonly JournalKey<string> Ended = JournalKey.Text("ended");

    /// <summary>What <see cref="Ended"/> says when the way back ended itself (its queue's limit, a change it could not apply).</summary>
    public const string EndedItself = "limit";

    /// <summary>The changes the way back applied to the old source.</summary>
    public static readonly JournalKey<long?> Changes = JournalKey.Count("changes");

    /// <summary>A rollback's: the target refuses writes (on) once it began.</summary>
    public static readonly JournalKey<ReadOnlyState?> TargetReadOnly = JournalKey.State<ReadOnlyState>("targetReadOnly");

    /// <summary>A rollback's: the tables its last changes touched on the old source, verified after.</summary>
    public static readonly JournalKey<IReadOnlyList<string>> ChangedTables = JournalKey.Lines("changedTables");

    /// <summary>A rollback's: the target's last changes applied to the old source.</summary>
    public static readonly JournalKey<long?> LastChanges = JournalKey.Count("lastChanges");

    /// <summary>A rollback's: done, the old source takes writes again (written "yes").</summary>
    public static readonly JournalKey<bool?> RolledBack = JournalKey.Of<bool?>("rolledBack", v => v == true ? "yes" : "no", t => t == "yes");

    /// <summary>How the way back of <paramref name="journal"/> ended as asked; null while it runs, or when it ended itself.</summary>
    public static FallbackEnd? EndedAs(MigrationJournal journal) =>
        Enum.TryParse<FallbackEnd>(journal?.Output(StepName, Ended), out var end) && Enum.IsDefined(end) ? end : null;

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.Fallback ? null : "no way back asked for (--fallback)";

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var journal = context.Journal;
        if (journal.Output(FallbackCaptureStep.StepName, FallbackCaptureStep.Capture) != CaptureState.On && FallbackRequest.Read(context.Folder) is null)
        {
            context.Record.Summary ??= "the way back was removed";
            return;
        }

        string? stopped;
        // A rollback's sessions, opened before it starts (behind PgBouncer, before the PAUSE the application waits from).
        RollbackSessions? sessions = null;
        try
        {
            while (true)
            {
                FallbackFollower? following;
                (stopped, following) = FallbackRequest.Read(context.Folder) is null ? await FollowAsync(context, cancellationToken) : (null, null);
                if (stopped is null && FallbackRequest.Read(context.Folder) == FallbackEnd.Rollback)
                {
                    sessions ??= await RollbackSessions.OpenAsync(context, cancellationToken);
                    sessions.Following = following;

                    // Behind PgBouncer a rollback starts with its PAUSE; one that waits past --max-pause gives up (resumed
                    // at the target, nothing changed), the request is answered with the reason, and the way back goes on.
                    if (context.Options.PgBouncer is not null && await PgBouncerSwitch.TryPauseBackAsync(context, cancellationToken) is { } refused)
                    {
                        context.Reporter.Warn(refused);
                        FallbackRequest.Refuse(context.Folder, refused);
                        if (sessions.TakeFollowing() is { } idle)
                        {
                            // The way back follows again with a follower of its own.
                            await idle.DisposeAsync();
                        }

                        continue;
                    }
                }

                break;
            }

            switch (FallbackRequest.Read(context.Folder))
            {
                case FallbackEnd.Rollback:
                    new OnlineStatus { Phase = OnlinePhases.WayBack, QueueBytes = FallbackSlot.Chosen(journal) ? null : 0 }.Write(context.Folder);
                    context.Record.Summary = await FallbackEnding.RollbackAsync(context, sessions ??= await RollbackSessions.OpenAsync(context, cancellationToken), cancellationToken);
                    context.Reporter.Info($"Rolled back: the old source ({journal.Source}) takes writes again; the target refuses them.");
                    break;
                case FallbackEnd.Finish:
                    await FallbackEnding.RemoveAsync(journal, context.Options.Source, context.Options.Into.Connection, cancellationToken);
                    context.Record.Summary = "finished: the target stays in use; the way back is removed from the target and the old source";
                    context.Reporter.Info("The way back is ended and removed from both sides; the target stays in use.");
                    break;
                default:
                    context.Record.Summary = stopped;
                    break;
            }
        }
        finally
        {
            if (sessions is not null)
            {
                await sessions.DisposeAsync();
            }
        }

        FallbackCaptureStep.Removed(journal);
        context.Record.Set(Ended, FallbackRequest.Read(context.Folder)?.ToString() ?? EndedItself);
        new OnlineStatus { Phase = OnlinePhases.Switched }.Write(context.Folder);
    }

    /// <summary>
    /// Follows until a request comes (null) or the queue outgrows its limit (the way back is removed; returns why).
    /// A connection lost on either side is tried again; anything else stops the migration, the way back kept.
    /// </summary>
    /// <returns>
    /// Why the way back stopped, or null; and for a rollback asked for while following by triggers, the follower, now
    /// the caller's (its sessions open and its tables described: the rollback's last rounds go on with it).
    /// </returns>
    private static async Task<(string? Stopped, FallbackFollower? Following)> FollowAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        context.Reporter.Info($"Keeping the old source in step with the target: switch back with 'pgrelocate rollback {context.Journal.Id}', keep the target with 'pgrelocate finish {context.Journal.Id}'.");
        if (FallbackSlot.Chosen(context.Journal))
        {
            return (await FollowBySlotAsync(context, cancellationToken), null);
        }

        while (true)
        {
            FallbackFollower? follower = null;
            try
            {
                follower = await FallbackFollower.OpenAsync(options.Source, options.Into.Connection, options.Into.Jobs, context.Journal.Id, cancellationToken);
                var written = DateTime.MinValue;
                var warned = DateTime.MinValue;
                while (FallbackRequest.Read(context.Folder) is null)
                {
                    var applied = await follower.RoundAsync(cancellationToken);
                    if (DateTime.UtcNow - written > TimeSpan.FromSeconds(1))
                    {
                        written = DateTime.UtcNow;
                        var (bytes, lag) = await follower.QueueAsync(cancellationToken);
                        new OnlineStatus
                        {
                            Phase = OnlinePhases.WayBack,
                            AppliedLsn = follower.Position.ToString(CultureInfo.InvariantCulture),
                            LagSeconds = lag,
                            QueueBytes = bytes,
                            Changes = follower.TotalChanges,
                            Transactions = follower.TotalTransactions,
                            Blocked = Blocked(follower),
                        }.Write(context.Folder);
                        context.Record.Set(Changes, follower.TotalChanges);
                        if (follower.Uncaptured.Count > 0 && DateTime.UtcNow - warned > TimeSpan.FromMinutes(1))
                        {
                            warned = DateTime.UtcNow;
                            context.Reporter.Warn($"The way back cannot capture yet: {string.Join("; ", follower.Uncaptured)}. A rollback needs them on the old source: it stops, the target read-only, while one is missing there.");
                            context.Journal.Save();
                        }
                        if (options.MaxFallbackQueue is { } max && bytes > max)
                        {
                            await follower.DisposeAsync();
                            return (await StopAsync(context, $"its queue holds {Units.Bytes(bytes)} on the target, over --max-fallback-queue {Units.Bytes(max)}", cancellationToken), null);
                        }
                    }

                    if (applied == 0 && !follower.Waiting)
                    {
                        await Task.Delay(200, cancellationToken);
                    }
                }

                if (FallbackRequest.Read(context.Folder) == FallbackEnd.Rollback)
                {
                    (var kept, follower) = (follower, null);
                    return (null, kept);
                }

                return (null, null);
            }
            catch (Exception e) when (Transience.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                // Closed before anything else: its sessions must not outlive the way back's removal.
                await (follower?.DisposeAsync() ?? ValueTask.CompletedTask);
                context.Reporter.Warn($"The way back lost a connection ({e.Message}); trying again in 5s.");
                await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && Failures.Operational(e) is { } failure)
            {
                // A queue nobody reads would grow on the target without end: the way back ends instead.
                await (follower?.DisposeAsync() ?? ValueTask.CompletedTask);
                return (await StopAsync(context, failure.Message.TrimEnd('.'), cancellationToken), null);
            }
            finally
            {
                if (follower is not null)
                {
                    await follower.DisposeAsync();
                }
            }
        }
    }

    /// <summary>
    /// The way back by a slot (<see cref="FallbackSlot"/>): the forward follow, reversed, until a request comes
    /// (null) or the slot holds more of the target's WAL than --max-fallback-queue (the way back is removed; returns
    /// why). The follow reconnects by itself; a connection it could not get back is tried again 5 s later.
    /// </summary>
    private static async Task<string?> FollowBySlotAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var max = context.Options.MaxFallbackQueue;
        while (true)
        {
            await using var follower = FallbackSlot.FollowerFor(context, limited: true);
            try
            {
                await follower.RunAsync(
                    _ =>
                    {
                        if (follower.Changes > 0)
                        {
                            FaultInjection.At(StepName, "applied");
                        }

                        return FallbackRequest.Read(context.Folder) is not null || follower.Retained > max;
                    },
                    cancellationToken);
                if (FallbackRequest.Read(context.Folder) is not null)
                {
                    return null;
                }

                await follower.DisposeAsync();
                return await StopAsync(context, OverLimit(follower.Retained, max!.Value), cancellationToken);
            }
            catch (Exception e) when ((Transience.IsTransient(e) || e.InnerException is { } inner && Transience.IsTransient(inner)) && !cancellationToken.IsCancellationRequested)
            {
                context.Reporter.Warn($"The way back lost a connection ({e.Message}); trying again in 5s.");
                await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && Failures.Operational(e) is { } failure)
            {
                // A slot nobody reads would hold the target's WAL without end: the way back ends instead (the follow's
                // guard stops it past the limit, even while its apply waits for a lock on the old source).
                await follower.DisposeAsync();
                return await StopAsync(context, follower.Retained > max ? OverLimit(follower.Retained, max!.Value) : failure.Message.TrimEnd('.'), cancellationToken);
            }
            finally
            {
                context.Record.Set(Changes, (context.Record.Get(Changes) ?? 0) + follower.Changes);
            }
        }
    }

    private static string OverLimit(long retained, long max) =>
        $"its replication slot holds {Units.Bytes(retained)} of WAL on the target, over --max-fallback-queue {Units.Bytes(max)}";

    /// <summary>What holds the way back, for the status: a transaction in progress, tables new on the target not captured yet; null when nothing.</summary>
    private static string? Blocked(FallbackFollower follower)
    {
        string[] parts =
        [
            .. follower.Waiting ? ["a transaction in progress on the target since before the last round: the way back applies in commit order, after it"] : Array.Empty<string>(),
            .. follower.Uncaptured.Count > 0 ? [$"not captured yet: {string.Join("; ", follower.Uncaptured)}"] : Array.Empty<string>(),
        ];
        return parts.Length == 0 ? null : string.Join("; ", parts);
    }

    /// <summary>Ends the way back on its own (its limit, a change it cannot apply): says why, removes it from both sides, returns the summary.</summary>
    private static async Task<string> StopAsync(MigrationContext context, string reason, CancellationToken cancellationToken)
    {
        var why = $"The way back stopped: {reason}. It is removed from both sides; the target stays in use, with no way back to the old source.";
        context.Reporter.Warn(why);
        try
        {
            await FallbackEnding.RemoveAsync(context.Journal, null, context.Options.Into.Connection, cancellationToken);
        }
        finally
        {
            // The old source's record goes too, where it can be reached: left there, it harms nothing but its disabled triggers.
            try
            {
                await FallbackEnding.RemoveAsync(context.Journal, context.Options.Source, null, cancellationToken);
            }
            catch (Exception e) when (Failures.Operational(e) is { } failure)
            {
                context.Reporter.Warn($"Could not remove the way back's record from the old source: {failure.Message} Remove it with DROP SCHEMA {OnlineNames.TargetSchema} CASCADE there, after enabling its tables' triggers again.");
            }
        }

        return why;
    }
}

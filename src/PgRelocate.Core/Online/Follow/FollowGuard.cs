using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Online.Follow;

/// <summary>
/// The follow's guard: the source watched, and a held-up apply shown, whatever the apply is doing. It keeps its own
/// session on the target (to see what the apply waits for) and when the follow last wrote its status.
/// </summary>
/// <param name="watch">The follow's watch of the source (made when first asked for).</param>
/// <param name="status">The follow's status file (made when first asked for).</param>
/// <param name="sides">What the follow's lines call the two sides.</param>
/// <param name="counts">The row changes (the session's pending ones with them) and transactions applied so far.</param>
internal sealed class FollowGuard(Func<SourceWatch> watch, Func<FollowStatus> status, PgConnectionInfo target, Func<FollowSides> sides, Func<FollowSession, (long Changes, long Transactions)> counts)
{
    private Npgsql.NpgsqlConnection? _targetWatch;

    /// <summary>When the follow last got as far as writing its status (read by the guard on another task).</summary>
    private long _lastTickTicks = DateTime.UtcNow.Ticks;

    /// <summary>The follow got as far as writing its status at <paramref name="now"/>.</summary>
    public void Ticked(DateTime now) => Interlocked.Exchange(ref _lastTickTicks, now.Ticks);

    /// <summary>Closes the guard's session on the target (at the follow session's end).</summary>
    public async Task CloseAsync()
    {
        if (_targetWatch is { } targetWatch)
        {
            _targetWatch = null;
            await targetWatch.DisposeAsync();
        }
    }

    /// <summary>
    /// Runs the follow with its guard beside it: every second, on sessions of its own, the guard watches the
    /// source (the WAL the slot holds, new tables; see <see cref="SourceWatch"/>) whatever the apply is doing,
    /// and, when the follow has not got as far as its status for two seconds (its apply held up by a lock on the
    /// target), writes it itself, saying what the apply waits for. A stop the guard decides (the slot endangers
    /// the source) ends the follow, with why the target could not keep up when it was held up.
    /// </summary>
    public async Task GuardedAsync(FollowSession session, Func<CancellationToken, Task> follow, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var guarding = GuardAsync(session, stop.Token);
        var following = follow(stop.Token);
        if (await Task.WhenAny(following, guarding) == guarding && guarding.IsFaulted)
        {
            await stop.CancelAsync();
            try
            {
                await following;
            }
            catch (Exception)
            {
                // Stopped for the guard's reason, raised below.
            }

            await guarding;
        }

        await stop.CancelAsync();
        try
        {
            await guarding;
        }
        catch (Exception) when (stop.IsCancellationRequested && following.IsCompleted)
        {
            // The follow ended: so does its guard. Whatever stopping it raised (its target session cut mid-query, or
            // refused by the same full lock table that failed the apply) must not hide why the follow ended.
        }

        await following;
    }

    private async Task GuardAsync(FollowSession session, CancellationToken cancellationToken)
    {
        string? blocked = null;
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var now = DateTime.UtcNow;
            try
            {
                await watch().TickAsync(now, cancellationToken);
            }
            catch (PgRelocateException e) when (blocked is not null)
            {
                throw new PgRelocateException($"{e.Message.TrimEnd('.')}. The {sides().Target} could not keep up: its apply was waiting for {blocked}.", e.ExitCode, e);
            }

            if (now - new DateTime(Interlocked.Read(ref _lastTickTicks), DateTimeKind.Utc) < TimeSpan.FromSeconds(2))
            {
                blocked = null;
                continue;
            }

            blocked = await ApplyWaitsAsync(session, cancellationToken);
            var applier = session.Applier;
            var (changes, transactions) = counts(session);
            status().WriteIfDue(now, changes, transactions, applier.Position, applier.LagSeconds(now), watch().LagBytes, watch().Retained, blocked);
        }
    }

    /// <summary>What the apply's sessions wait for on the target ("a lock on public.t held by process 1234 (waiting 12 s)"), or null.</summary>
    private async Task<string?> ApplyWaitsAsync(FollowSession session, CancellationToken cancellationToken)
    {
        if (_targetWatch is { State: not System.Data.ConnectionState.Open })
        {
            // A query of it cut by an earlier stop (a follow paused for the verification, under load) can leave it
            // broken, and a closed session would fail the follow with "Connection is not open": a new one.
            await CloseAsync();
        }

        _targetWatch ??= await Db.OpenAsync(target.WithApplicationName("pgrelocate online watch"), sides().Target, cancellationToken);
        await using var cmd = new Npgsql.NpgsqlCommand(OnlineSql.ApplyWaits, _targetWatch);
        cmd.Parameters.AddWithValue("pids", session.ApplyProcessIds.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var waits = new List<string>();
        while (await r.ReadAsync(cancellationToken))
        {
            var blockers = r.IsDBNull(2) ? [] : r.GetFieldValue<int[]>(2);
            var by = blockers.Length == 0 ? "" : $" held by {Sentences.Plural(blockers.Length, "process", "processes")} {string.Join(", ", blockers)}";
            waits.Add($"a lock on {r.GetString(1)}{by} (waiting {r.GetDouble(3):0} s)");
        }

        return waits.Count == 0 ? null : string.Join("; ", waits);
    }
}

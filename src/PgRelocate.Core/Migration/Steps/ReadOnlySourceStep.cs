using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// Puts the source database in read-only mode for the maintenance window, as the seeds ask: new transactions
/// default to read only (<c>ALTER DATABASE ... SET default_transaction_read_only = on</c>) and the sessions
/// connected now are ended, so nothing written after the dump is lost. Undone when the migration fails or
/// is cancelled, and at the end unless --keep-read-only.
/// </summary>
public sealed class ReadOnlySourceStep : ICompensatingStep
{
    public const string StepName = "read-only source";

    /// <summary>Whether the source is read-only by this step: on, or lifted since (by the undo or a rollback).</summary>
    public static readonly JournalKey<ReadOnlyState?> ReadOnly = JournalKey.State<ReadOnlyState>("readOnly");

    /// <summary>When the source began to refuse writes (the step's start less its session and the list of applications), where the write downtime starts.</summary>
    public static readonly JournalKey<DateTimeOffset?> RefusedAt = JournalKey.Time("refusedAt");

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => options.ReadOnlySource ? null : "not asked for (--read-only-source)";

    public bool KeepOnSuccess(MigrationOptions options) => options.KeepReadOnly;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var source = context.Options.Source;
        // Opened ahead by the step before where the applications wait from before this step (behind PgBouncer, paused).
        await using var ahead = context.TakeHandOff<SessionAhead>();
        await using var opened = ahead is null ? await Db.OpenAsync(source, "source", cancellationToken) : null;
        var conn = ahead?.Connection ?? opened!;
        var apps = await ConnectedApplications.ReadAsync(conn, cancellationToken);
        context.Record.Tables.Add(ApplicationsTable(apps));
        context.Record.Set(RefusedAt, DateTimeOffset.UtcNow);
        var (ended, closing, refused) = await RefuseWritesAsync(conn, source.Database, context.Journal.Id, "source", cancellationToken);
        context.Record.Set(ReadOnly, ReadOnlyState.On);
        context.Record.Summary = $"{source.Database} is read-only; {Sentences.Counted(ended - closing, "session")} ended"
            + (closing > 0 ? $", {closing} still closing" : "")
            + (refused > 0 ? $", {refused} could not be ended (they belong to other roles)" : "");
        if (refused > 0)
        {
            context.Reporter.Warn($"{refused} sessions on the source could not be ended: they may still write until they reconnect.");
        }
    }

    /// <summary>
    /// The step's session on the source, opened by a step before it that makes the applications wait first (the
    /// online follow, which pauses PgBouncer before this step: opening a session there is about three round trips
    /// more of the applications' wait), and handed to this step (<see cref="MigrationContext.HandOff{T}"/>).
    /// </summary>
    public sealed record SessionAhead(Npgsql.NpgsqlConnection Connection) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }

    /// <summary>
    /// Makes a database read-only for new transactions (<c>ALTER DATABASE ... SET default_transaction_read_only = on</c>)
    /// and ends the client sessions connected to it but this one and the migration's lock, waiting up to two
    /// seconds for them to go. Returns the sessions asked to end, those still closing, and those it could not ask.
    /// </summary>
    /// <param name="side">"source" or "target", for the refusal's words.</param>
    public static async Task<(int Ended, long Closing, int Refused)> RefuseWritesAsync(Npgsql.NpgsqlConnection conn, string database, string migrationId, string side, CancellationToken cancellationToken)
    {
        // The ALTER and the sessions' end in one round trip (this is write downtime), each committed on its own, in
        // that order (a Sync after each): a session started between them is read-only already. pg_terminate_backend
        // only asks: a session ends a moment later. Those it could not ask (another role's, without the right) may go
        // on writing in their open transaction; new ones are read-only already.
        var terminated = new List<(int Pid, bool Ok)>();
        var terminate = new Npgsql.NpgsqlBatchCommand(CatalogSql.Load("Migration/Steps/EndSessions.sql"));
        terminate.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = HeldMigrationLock.ApplicationName(migrationId) });
        await using (var batch = new Npgsql.NpgsqlBatch(conn)
        {
            EnableErrorBarriers = true,
            BatchCommands = { new($"ALTER DATABASE {Db.Ident(database)} SET default_transaction_read_only = on"), terminate },
        })
        {
            try
            {
                // The reader passes over the ALTER, which returns no rows, to the sessions' end.
                await using var r = await batch.ExecuteReaderAsync(cancellationToken);
                while (await r.ReadAsync(cancellationToken))
                {
                    terminated.Add((r.GetInt32(0), r.GetBoolean(1)));
                }
            }
            catch (Npgsql.PostgresException e)
            {
                if (await Db.ScalarAsync<bool>(conn, CatalogSql.Expand("SELECT {{read_only_default}}"), cancellationToken))
                {
                    throw;
                }

                // The ALTER refused: the sessions' end, which looks for the read-only default first, ended none.
                throw new PgRelocateException($"Could not make the {side} read-only: {e.MessageText}. Connect as the database's owner{(side == "source" ? ", or leave out --read-only-source and stop writes yourself" : "")}.", ExitCode.Failed, e);
            }
        }

        var ended = terminated.Where(t => t.Ok).Select(t => t.Pid).ToArray();
        var refused = terminated.Count - ended.Length;
        var closing = 0L;
        // Looked at every 20 ms: a terminated session is gone within milliseconds, and this wait is write downtime.
        for (var i = 0; i < 100; i++)
        {
            await using var cmd = new Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(@pids)", conn);
            cmd.Parameters.AddWithValue("pids", ended);
            closing = (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
            if (closing == 0)
            {
                break;
            }

            await Task.Delay(20, cancellationToken);
        }

        return (ended.Length, closing, refused);
    }

    public async Task UndoAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        // Without the source (a cancel given none) the journal keeps saying it is read-only.
        if (context.Record.Get(ReadOnly) != ReadOnlyState.On || !context.HasSource)
        {
            return;
        }

        // After the switch the applications write to the target: a source writable again would take writes the target never sees.
        if (context.Journal.SwitchedAt is { } switched)
        {
            context.Reporter.Warn($"The source {context.Options.Source.Database} stays read-only: the applications were sent to the target at {switched:HH:mm:ss} UTC.");
            return;
        }

        await LiftAsync(context.Options.Source, cancellationToken);
        context.Record.Set(ReadOnly, ReadOnlyState.Lifted);
        context.Record.MarkUndone(LiftedSummary(context.Options.Source.Database));
        context.Reporter.Info($"Source {context.Options.Source.Database} is writable again.");
    }

    /// <summary>What the journal says of the step once the source is writable again.</summary>
    public static string LiftedSummary(string database) => $"{database} was read-only, and is writable again";

    /// <summary>
    /// True when the journal says this step left the source read-only and nothing has lifted it since, before any
    /// switch (after one the source is meant to stay read-only).
    /// </summary>
    public static bool LeftReadOnly(MigrationJournal journal) => journal.Output(StepName, ReadOnly) == ReadOnlyState.On && journal.SwitchedAt is null;

    /// <summary>Makes the source writable again. Safe to repeat.</summary>
    public static async Task LiftAsync(PgConnectionInfo source, CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(source, "source", cancellationToken);
        await LiftAsync(conn, source.Database, cancellationToken);
    }

    /// <summary>Makes <paramref name="database"/> take writes again, on <paramref name="conn"/>, a session on that database. Safe to repeat.</summary>
    public static async Task LiftAsync(Npgsql.NpgsqlConnection conn, string database, CancellationToken cancellationToken)
    {
        // This session itself may start read-only: switch that off for it before changing the database.
        await Db.ExecuteAsync(conn, "SET default_transaction_read_only = off", cancellationToken);
        await Db.ExecuteAsync(conn, $"ALTER DATABASE {Db.Ident(database)} RESET default_transaction_read_only", cancellationToken);
    }

    internal static ReportTable ApplicationsTable(IReadOnlyList<ConnectedApplication> apps) =>
        new("Applications connected to the source",
            ["application", "user", "client address", "sessions"],
            apps.Select(a => (IReadOnlyList<string>)[a.Application, a.User, a.ClientAddress, a.Sessions.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ToList(),
            apps.Count == 0 ? "none connected" : "repoint these at the new DATABASE_URL at cutover");
}

/// <summary>What a step's record says of a database it made read-only (<see cref="ReadOnlySourceStep.ReadOnly"/>).</summary>
public enum ReadOnlyState
{
    /// <summary>Read-only, by the migration.</summary>
    On,

    /// <summary>Writable again.</summary>
    Lifted,
}

using System.Text.RegularExpressions;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>What a tool's slot holds on the source, read for a migration whose process is gone; or why it could not be read.</summary>
public sealed record OrphanedSlot(string Slot, long? RetainedBytes, string CleanupCommand, string? NotReached)
{
    /// <summary>One line for `status` and `list`.</summary>
    public string Describe() => RetainedBytes is { } held
        ? $"its process is gone and its replication slot {Slot} holds {Units.Bytes(held)} of WAL on the source, growing until it is removed: {CleanupCommand}"
        : $"its process is gone and its replication slot {Slot} may still hold WAL on the source ({NotReached}): {CleanupCommand}";
}

/// <summary>
/// Replication slots of the tool that no process will read again (a migration killed and never resumed, a machine
/// that died): the source keeps their WAL without limit. Each is named after its migration's id
/// (<see cref="OnlineNames.Slot"/>), so every command run against the source can give the exact
/// <c>pgrelocate cancel ID --source URL</c> that removes it, and `status` and `list` can read what it holds.
/// </summary>
public static class OrphanedSlots
{
    private static readonly Regex IdInName = new(@"^pgrelocate_(\d{8})_(\d{6})_([0-9a-f]{4})$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>How long a command that only warns waits for the source.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    /// <summary>The id of the migration that named the slot (<see cref="OnlineNames.Slot"/>), or null for another name.</summary>
    public static string? MigrationId(string slot) =>
        IdInName.Match(slot) is { Success: true } m ? $"{m.Groups[1].Value}-{m.Groups[2].Value}-{m.Groups[3].Value}" : null;

    /// <summary>What removes one of the tool's slots and the rest of its migration: the cancel with the source, without its password (see <see cref="PastedCommand"/>).</summary>
    public static string CleanupCommand(string slot, string database, PgConnectionInfo source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var on = database.Length == 0 || database == source.Database ? source : source.WithDatabase(database);
        return $"pgrelocate cancel {MigrationId(slot) ?? slot} --source {PastedCommand.Connection(on)}";
    }

    /// <summary>
    /// Whether a slot named as the tool's is provably one: named after a migration's id, decoded by pgoutput, with
    /// the publication of its name beside it. Another program's slot of such a name is neither removed nor named
    /// with a command that removes it.
    /// </summary>
    public static bool IsOurs(ToolSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        return MigrationId(slot.Name) is not null && slot.Plugin == "pgoutput" && slot.Published == true;
    }

    /// <summary>Why a slot named as the tool's is not provably one (see <see cref="IsOurs"/>).</summary>
    public static string NotOurs(ToolSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        return MigrationId(slot.Name) is null ? "its name is of no migration's id"
            : slot.Plugin != "pgoutput" ? $"its output plugin is {(slot.Plugin.Length == 0 ? "none (a physical slot)" : slot.Plugin)}, not pgoutput"
            : slot.Published is null ? $"its database {slot.Database} was not reached to look for its publication"
            : $"no publication {slot.Name} is beside it";
    }

    /// <summary>
    /// The slots named as the tool's on the source's server, each told whether it is provably one: a slot of
    /// another database than the session's has its publication looked for there (as the source's login role).
    /// </summary>
    public static async Task<IReadOnlyList<ToolSlot>> ReadAsync(NpgsqlConnection conn, PgConnectionInfo source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var slots = new List<ToolSlot>();
        foreach (var s in await SourceSide.ToolSlotsAsync(conn, cancellationToken))
        {
            slots.Add(s.Published is null && s.Plugin == "pgoutput" && MigrationId(s.Name) is not null ? s with { Published = await PublishedAsync(source.WithDatabase(s.Database), s.Name, cancellationToken) } : s);
        }

        return slots;
    }

    /// <summary>Whether the database holds a publication of that name; null when it could not be reached.</summary>
    private static async Task<bool?> PublishedAsync(PgConnectionInfo database, string name, CancellationToken cancellationToken)
    {
        try
        {
            await using var conn = await Db.OpenAsync(database.WithApplicationName(Catalog.ConnectedApplications.CheckApplicationName), "source", cancellationToken);
            return await Db.ScalarAsync<bool>(conn, $"SELECT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = {Db.Literal(name)})", cancellationToken);
        }
        catch (Exception e) when (e is PgRelocateException or NpgsqlException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The tool's slots (provably: <see cref="IsOurs"/>) on the source's server that no session reads, but <paramref name="ownId"/>'s (a resumed migration's own).</summary>
    public static async Task<IReadOnlyList<ToolSlot>> FindAsync(NpgsqlConnection conn, PgConnectionInfo source, string? ownId, CancellationToken cancellationToken)
    {
        var own = ownId is null ? null : OnlineNames.Slot(ownId);
        return (await ReadAsync(conn, source, cancellationToken)).Where(s => IsOurs(s) && !s.Active && s.Name != own).ToList();
    }

    /// <summary>
    /// Warns about every slot of the tool on the source's server that no session reads, with the command that
    /// removes it. Says nothing when the source cannot be reached: the command reports that itself.
    /// </summary>
    public static async Task WarnAsync(PgConnectionInfo source, IReporter reporter, string? ownId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(reporter);
        // The caller goes on at once: a process's first session takes tens of milliseconds of work before it waits
        // for the server, which the caller's own first session (a copy's snapshot) would otherwise wait behind.
        await Task.Yield();
        IReadOnlyList<ToolSlot> slots;
        try
        {
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            patience.CancelAfter(Patience);
            // Named as the checks' sessions are: it runs beside a migration's checks, whose list of applications leaves it out.
            await using var conn = await Db.OpenAsync(source.WithApplicationName(Catalog.ConnectedApplications.CheckApplicationName), "source", patience.Token);
            slots = await FindAsync(conn, source, ownId, patience.Token);
        }
        catch (Exception e) when (e is PgRelocateException or NpgsqlException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return;
        }

        foreach (var s in slots)
        {
            reporter.Warn($"Replication slot {s.Name} of pgrelocate on the source's server ({s.Database}) is read by no session and holds {Units.Bytes(s.RetainedBytes)} of WAL, growing until it is read or removed. If its migration's process is gone and it will not be resumed, remove it: {CleanupCommand(s.Name, s.Database, source)}");
        }
    }

    /// <summary>
    /// For a migration whose process is gone and whose journal records a slot on the source: what the slot holds
    /// now; null when the migration runs or left no slot. The source is <paramref name="given"/> when it is the
    /// journal's, else the journal's (which keeps no password: libpq's PGPASSWORD or password file supply it).
    /// </summary>
    public static async Task<OrphanedSlot?> OfAsync(MigrationJournal journal, PgConnectionInfo? given, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journal);
        if (!OnlineCleanup.LeftOnSource(journal) || journal.IsRunningElsewhere() || journal.Status == MigrationStatus.Completed)
        {
            return null;
        }

        var slot = journal.Output(Steps.SnapshotCopyStep.StepName, Steps.SnapshotCopyStep.Slot)!;
        var source = given is not null && PastedCommand.SameConnection(journal.Source, given.ToString()) ? given : Recorded(journal.Source);
        var command = $"pgrelocate cancel {journal.Id} --source {PastedCommand.Connection(journal.Source)}";
        try
        {
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            patience.CancelAfter(Patience);
            await using var conn = await Db.OpenAsync(source, "source", patience.Token);
            var found = await SourceSide.SlotsAsync(conn, slot, patience.Token);
            return found.Count == 0 ? null : new OrphanedSlot(slot, found[0].RetainedBytes, command, null);
        }
        catch (Exception e) when (e is PgRelocateException or NpgsqlException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var why = e is OperationCanceledException ? "the source did not answer" : e.Message;
            return new OrphanedSlot(slot, null, command, $"the source was not reached: {why.TrimEnd('.')}; give it in PGRELOCATE_SOURCE, or to status with --source URL");
        }
    }

    /// <summary>
    /// Removes the slot and the publication named after migration <paramref name="id"/> from the source, for a
    /// migration whose journal went with its machine, and says what it removed; null when the source has no slot
    /// of that name. Only a slot that is provably the tool's (<see cref="IsOurs"/>) is removed, and a session still
    /// reading it is ended only when <paramref name="force"/> says so.
    /// </summary>
    /// <exception cref="UsageException">The slot is in another database, is not provably the tool's, or is read (without force); nothing was changed.</exception>
    public static async Task<string?> RemoveAsync(PgConnectionInfo source, string id, bool force, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var name = OnlineNames.Slot(id);
        SlotWal found;
        await using (var conn = await Db.OpenAsync(source, "source", cancellationToken))
        {
            if ((await SourceSide.SlotsAsync(conn, name, cancellationToken)).FirstOrDefault() is not { } slot)
            {
                return null;
            }

            found = slot;
        }

        if (found.Database != source.Database)
        {
            throw new UsageException(Sentences.NothingWasChanged($"Replication slot {name} is in database {found.Database} of the source's server, whose publications this connection cannot see: run pgrelocate cancel {id} --source {PastedCommand.Connection(source.WithDatabase(found.Database))}"));
        }

        var tool = new ToolSlot(found.Name, found.Database, found.Active, found.RetainedBytes, found.WalStatus, found.Plugin, found.Published);
        if (!IsOurs(tool))
        {
            throw new UsageException(Sentences.NothingWasChanged($"Replication slot {name} on the source is not provably pgrelocate's ({NotOurs(tool)}), and no journal of migration {id} is here to say it is: it was left alone, and so was any session reading it. Run cancel where the migration's journal is (--workdir), or leave the slot to the program that made it"));
        }

        if (found.Active && !force)
        {
            throw new UsageException(Sentences.NothingWasChanged($"Replication slot {name} is being read by a session on the source (server process {found.ActivePid}): a migration may still run elsewhere. Stop it there ('pgrelocate cancel {id}' on its machine), or pass --force to end that session and remove the slot"));
        }

        await SourceSide.RemoveAsync(source, name, OnlineNames.Publication(id), [], cancellationToken);
        return found.Active
            ? $"Removed from the source: the session reading replication slot {name} (server process {found.ActivePid}, ended by --force), the slot, and publication {OnlineNames.Publication(id)}."
            : $"Removed from the source: replication slot {name} (read by no session) and publication {OnlineNames.Publication(id)}.";
    }

    /// <summary>The journal's connection (its password hidden as ***) without that password, for libpq's own sources of one.</summary>
    private static PgConnectionInfo Recorded(string url)
    {
        var info = PgConnectionInfo.Parse(url);
        return info.HasPassword ? PgConnectionInfo.Parse(url.Replace(":***@", "@", StringComparison.Ordinal)) : info;
    }
}

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

    /// <summary>What removes the slot and the rest of its migration: the cancel with the source (password hidden), or, for a name of no migration, the SQL.</summary>
    public static string CleanupCommand(string slot, string database, PgConnectionInfo source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var on = database.Length == 0 || database == source.Database ? source : source.WithDatabase(database);
        return MigrationId(slot) is { } id
            ? $"pgrelocate cancel {id} --source {on}"
            : $"SELECT pg_drop_replication_slot('{slot}'); on {on}";
    }

    /// <summary>The tool's slots on the source's server that no session reads, but <paramref name="ownId"/>'s (a resumed migration's own).</summary>
    public static async Task<IReadOnlyList<ToolSlot>> FindAsync(NpgsqlConnection conn, string? ownId, CancellationToken cancellationToken)
    {
        var own = ownId is null ? null : OnlineNames.Slot(ownId);
        return (await SourceSide.ToolSlotsAsync(conn, cancellationToken)).Where(s => !s.Active && s.Name != own).ToList();
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
            slots = await FindAsync(conn, ownId, patience.Token);
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

        var slot = journal.Output(Steps.SnapshotCopyStep.StepName, "slot")!;
        var source = given is not null && string.Equals(given.ToString(), journal.Source, StringComparison.Ordinal) ? given : Recorded(journal.Source);
        var command = $"pgrelocate cancel {journal.Id} --source {journal.Source}";
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
    /// migration whose journal went with its machine; false when the source has no slot of that name.
    /// </summary>
    public static async Task<bool> RemoveAsync(PgConnectionInfo source, string id, CancellationToken cancellationToken)
    {
        var slot = OnlineNames.Slot(id);
        await using (var conn = await Db.OpenAsync(source, "source", cancellationToken))
        {
            if ((await SourceSide.SlotsAsync(conn, slot, cancellationToken)).Count == 0)
            {
                return false;
            }
        }

        await SourceSide.RemoveAsync(source, slot, OnlineNames.Publication(id), [], cancellationToken);
        return true;
    }

    /// <summary>The journal's connection (its password hidden as ***) without that password, for libpq's own sources of one.</summary>
    private static PgConnectionInfo Recorded(string url)
    {
        var info = PgConnectionInfo.Parse(url);
        return info.HasPassword ? PgConnectionInfo.Parse(url.Replace(":***@", "@", StringComparison.Ordinal)) : info;
    }
}

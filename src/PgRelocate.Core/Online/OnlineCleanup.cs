using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online.Apply;
using PgRelocate.Online.Steps;

namespace PgRelocate.Online;

/// <summary>
/// What `cancel` does for an online migration whose process is gone (killed, machine restarted): the slot and
/// publication it left on the source are removed, so no path leaves them filling the source's disk, and the
/// large transactions its follow kept on disk are removed.
/// </summary>
public static class OnlineCleanup
{
    /// <summary>True when the journal records a slot this migration created and nothing has removed since.</summary>
    public static bool LeftOnSource(MigrationJournal journal) => journal.Output(SnapshotCopyStep.StepName, "slot") is not null;

    /// <summary>Removes the changes of large transactions a killed follow kept on disk (see <see cref="TransactionSpool"/>).</summary>
    public static void RemoveKeptTransactions(MigrationJournal journal) => TransactionSpool.RemoveLeftIn(journal.Folder);

    public static async Task RemoveAsync(MigrationJournal journal, PgConnectionInfo source, CancellationToken cancellationToken)
    {
        var record = journal.Step(SnapshotCopyStep.StepName);
        await SourceSide.RemoveAsync(source, record.Outputs["slot"], record.Outputs["publication"], SnapshotCopyStep.IdentityTables(record), cancellationToken);
        record.Outputs.Remove("slot");
        record.Outputs.Remove("replicaIdentityFull");
        journal.AddLog("Replication slot and publication removed from the source by cancel.");
    }
}

using PgRelocate.Connections;
using PgRelocate.Preflight;

namespace PgRelocate.Migration;

/// <summary>
/// The last completed migration between the same two servers (host and port of each, the same source database) whose
/// journal holds an estimate and what the migration took: what the next estimate learns from.
/// </summary>
public static class EstimateHistory
{
    /// <summary>How many of the newest migrations are looked at: an older pair says little of the servers as they are now.</summary>
    private const int Looked = 50;

    /// <summary>The latest such pair in <paramref name="workDir"/>, or null; <paramref name="except"/>: a migration to pass over (the one asking).</summary>
    public static PastEstimate? Latest(string workDir, PgConnectionInfo source, PgConnectionInfo target, string? except = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        foreach (var journal in MigrationJournal.Newest(workDir, Looked))
        {
            if (journal.Id == except || journal.Status != MigrationStatus.Completed || journal.Estimate is not { } pair
                || !Same(journal.Source, source, database: true) || !Same(journal.Target, target, database: false))
            {
                continue;
            }

            if (pair.Actual.CopySeconds is null && pair.Actual.DumpRestoreSeconds is null)
            {
                continue;
            }

            return new PastEstimate(journal.Id, journal.FinishedAt ?? journal.CreatedAt,
                pair.MeasuredCopySeconds, pair.Actual.CopySeconds, pair.MeasuredDumpRestoreSeconds, pair.Actual.DumpRestoreSeconds, pair.Actual.OnlineDowntimeSeconds);
        }

        return null;
    }

    private static bool Same(string recorded, PgConnectionInfo info, bool database)
    {
        PgConnectionInfo then;
        try
        {
            then = PgConnectionInfo.Parse(recorded);
        }
        catch (Errors.UsageException)
        {
            return false;
        }

        return string.Equals(then.Host, info.Host, StringComparison.OrdinalIgnoreCase) && then.Port == info.Port
            && (!database || then.Database == info.Database);
    }
}

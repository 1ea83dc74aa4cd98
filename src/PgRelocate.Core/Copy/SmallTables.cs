namespace PgRelocate.Copy;

/// <summary>
/// Tables so small that the round trips around their work cost more than the work: a few pages of rows, and index
/// builds of well under a millisecond each. Measured at 1,000 such tables, one transaction and one session hop per
/// table and per index made the copy twice as slow as pg_restore. They are copied in batches instead: one source
/// lock and one target transaction (one TRUNCATE, each table's COPY ... FREEZE, the batch's records, one COMMIT)
/// per batch, and each table's indexes, constraints and ANALYZE are sent in one round trip, in one transaction.
/// </summary>
internal static class SmallTables
{
    /// <summary>At most this much heap and (weighted) index estimate: eight pages.</summary>
    public const long MaxBytes = 64 * 1024;

    /// <summary>At most this many tables in one batch: as many locks in one transaction, and no worker idle at the end.</summary>
    public const int MaxBatch = 50;

    /// <summary>A whole table, small, and not an extension's configuration table (those keep the extension's own rows).</summary>
    public static bool Fits(DataChunk chunk) =>
        chunk is { IsWholeTable: true, Table: { ConfigCondition: null } table } && table.TotalBytes <= MaxBytes;

    /// <summary>
    /// The units the data workers take in turn, in the chunks' order: every chunk alone, except runs of small tables,
    /// which go in batches of up to <see cref="MaxBatch"/>, smaller when there are few, so every job gets some.
    /// </summary>
    public static IReadOnlyList<DataChunk[]> Group(IReadOnlyList<DataChunk> chunks, int jobs)
    {
        var small = chunks.Count(Fits);
        var size = (int)Math.Clamp(small / Math.Max(1, jobs * 4), 1, MaxBatch);
        var units = new List<DataChunk[]>();
        var batch = new List<DataChunk>();
        foreach (var chunk in chunks)
        {
            if (!Fits(chunk))
            {
                units.Add([chunk]);
                continue;
            }

            batch.Add(chunk);
            if (batch.Count == size)
            {
                units.Add([.. batch]);
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            units.Add([.. batch]);
        }

        return units;
    }
}

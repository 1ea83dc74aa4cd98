using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>
/// Tables so small that the round trips around their work cost more than the work: a few pages of rows, and index
/// builds of well under a millisecond each. Measured at 1,000 such tables, one transaction and one session hop per
/// table and per index made the copy twice as slow as pg_restore. They are copied in batches instead: one source
/// lock and one target transaction (each table's COPY, the batch's records, one COMMIT) per batch; then the
/// indexes, constraints and ANALYZE of several tables are sent in one round trip, and the batch's in one transaction.
/// Their work is light for the <see cref="WorkGate"/>: it takes no slot while no large table's work holds or awaits
/// one. Each statement is short, and a session spends much of its turn waiting for the next round trip, when another
/// could work. Gated as large tables' work is, at most two of the four sessions of a copy with two jobs worked at
/// once: a copy of 5,000 tables took 5.2 s where it takes 4.5 s with all four (medians of three), one of 1,000
/// tables 0.98 of pg_dump + pg_restore's time where it takes 0.92. Beside a large table's work it takes a slot, so a
/// long index build keeps its core.
/// </summary>
internal static class SmallTables
{
    /// <summary>At most this much heap and (weighted) index estimate: eight pages.</summary>
    public const long MaxBytes = 64 * 1024;

    /// <summary>At most this many tables in one batch: as many locks in one transaction, and no worker idle at the end.</summary>
    public const int MaxBatch = 50;

    /// <summary>
    /// The index builds, constraints and ANALYZE of this many tables go in one round trip: at 1,000 tables of three
    /// rows, one round trip a table took 0.15 s more of a 1.5 s copy (the tool's threads waking for each reply).
    /// </summary>
    public const int PerRoundTrip = 10;

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

    /// <summary>
    /// A small table's statements not done yet, in order, each with the items it records: its index builds, its key
    /// constraints, the constraints made of indexes built before, ANALYZE. A key constraint neither built nor made yet is made by pg_dump's own
    /// statement (ALTER TABLE ... ADD PRIMARY KEY), one statement where building its index first takes two: that
    /// split lets a large table's other indexes build meanwhile, which a small table's do not need.
    /// <paramref name="isDone"/> says which items a resumed copy's record holds.
    /// </summary>
    public static List<(string Sql, string[] Items)> Steps(CopyTable table, IReadOnlyList<TableIndex> indexes, Func<string, bool> isDone)
    {
        var steps = new List<(string Sql, string[] Items)>();
        var keys = new List<(string Sql, string[] Items)>();
        var constraints = new List<(string Sql, string[] Items)>();
        foreach (var i in indexes)
        {
            var index = CopyRecord.IndexItem("index", table, i.Name);
            var constraint = CopyRecord.IndexItem("constraint", table, i.Name);
            if (i.AttachSql is null)
            {
                steps.Add((i.Sql, [index]));
            }
            else if (!isDone(index) && !isDone(constraint))
            {
                keys.Add((i.Statement, [index, constraint]));
            }
            else
            {
                steps.Add((i.Sql, [index]));
                constraints.Add((i.AttachSql, [constraint]));
            }
        }

        steps.AddRange(keys);
        steps.AddRange(constraints);
        steps.Add((Analyze([table]), [CopyRecord.IndexItem("analyze", table)]));
        return [.. steps.Where(s => !s.Items.All(isDone))];
    }

    /// <summary>One ANALYZE of <paramref name="tables"/>.</summary>
    public static string Analyze(IEnumerable<CopyTable> tables) => "ANALYZE " + string.Join(", ", tables.Select(t => t.Qualified));

    /// <summary>
    /// The statements of one round trip of a batch's index work, one a statement, each with its table (the round trip
    /// holds several tables', and some of pg_dump's entries hold more than one statement: an index and its CLUSTER ON,
    /// say): the tables' steps, each table's record when <paramref name="recorded"/>, the batch's BEGIN in the
    /// <paramref name="first"/> round trip and its COMMIT in the <paramref name="last"/>. The tables' ANALYZEs go last,
    /// as one statement: at three rows a table, ANALYZE costs its fixed work, a quarter of which one statement for ten
    /// tables saves (measured at 1,000 tables: 0.53 s against 0.70 s). The round trip is one transaction's part, so
    /// a table's record may come before its ANALYZE.
    /// </summary>
    public static List<(CopyTable Table, string Sql)> RoundTrip(IReadOnlyList<(CopyTable Table, List<(string Sql, string[] Items)> Steps)> group, bool recorded, bool first, bool last)
    {
        var statements = new List<(CopyTable Table, string Sql)>();
        if (first)
        {
            statements.Add((group[0].Table, "BEGIN"));
        }

        var analyzed = new List<CopyTable>();
        foreach (var (table, steps) in group)
        {
            var analyze = Analyze([table]);
            analyzed.AddRange(steps.Where(s => s.Sql == analyze).Select(_ => table));
            statements.AddRange(steps.Where(s => s.Sql != analyze).SelectMany(s => SqlText.Split(s.Sql)).Select(sql => (table, sql)));
            if (recorded)
            {
                statements.Add((table, CopyRecord.Mark(steps.SelectMany(s => s.Items))));
            }
        }

        if (analyzed.Count > 0)
        {
            statements.Add((analyzed[0], Analyze(analyzed)));
        }

        if (last)
        {
            statements.Add((group[^1].Table, "COMMIT"));
        }

        return statements;
    }
}

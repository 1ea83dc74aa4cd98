using System.Globalization;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Preflight;

/// <summary>
/// What <c>check</c> predicts of each path, in seconds and bytes (null where a measure it needs is missing, the basis
/// says which), the path it recommends for the downtime budget and why, and what it rests on.
/// </summary>
public sealed record Estimate(
    double CopySeconds,
    double DumpRestoreSeconds,
    double StagedSeconds,
    double? SourceWalBytesPerSecond,
    double? SlotWalBytesAtCatchUp,
    double? CatchUpSeconds,
    double OfflineDowntimeSeconds,
    double? OnlineDowntimeSeconds,
    string RecommendedPath,
    string Why,
    IReadOnlyList<string> Basis,
    EstimateMeasures Measures)
{
    /// <summary>The direct copy's prediction from this run's measurements alone, before a past migration corrected it: what the next estimate learns against.</summary>
    public double MeasuredCopySeconds { get; init; }

    /// <summary>Dump + restore's, likewise.</summary>
    public double MeasuredDumpRestoreSeconds { get; init; }

    /// <summary>
    /// The round trips the online cutover makes one after another, counted from a switch's statements: to the source
    /// alone (make it read-only and end its sessions in one, see them gone, mark its last change and receive it; its sequences,
    /// its extensions' configuration tables and its unlogged tables are read meanwhile, while the last changes are
    /// applied: Online/Steps/SwitchReadsAhead), to the target alone (commit the last
    /// changes and their position, read the tables the follow changed, re-enable the triggers, set the sequences, drop
    /// the tool's schema; one more, the triggers' modes recorded, after a switch that compares with pg_dump, which
    /// takes far longer anyway), and to both at once (the row counts' sizes and counts, beside which
    /// the schema fingerprints are read again, the schema objects' checks and refresh, the large objects). Measured
    /// (`bench/switch.sh` with LATENCY_MS): with the tool 20 ms from both servers a switch took 0.38 s more than beside
    /// them, about 19 round trips, before the source's reads went beside the last changes; these count 16. Setting more
    /// than <see cref="Copy.SequenceSync.Trips"/>'s batch of sequences adds one to the target per batch (they are read
    /// beside the last changes).
    /// </summary>
    private const int CutoverSourceTrips = 3, CutoverTargetTrips = 8, CutoverBothTrips = 5;

    /// <summary>The heap size above which the copy splits a table into page ranges, where it splits (CopyOptions' default).</summary>
    private const long SplitBytes = Copy.CopyOptions.DefaultSplit;

    /// <summary>Predicts every path from <paramref name="m"/> and the options' lanes and budget.</summary>
    public static Estimate Predict(EstimateMeasures m, EstimateOptions o)
    {
        var basis = new List<string>(m.Basis);
        // Small tables at their sampled cost each; the rest by their bytes, indexes and round trips.
        var small = m.SmallTableSeconds is not null ? m.Tables.Count(t => t.IsSmall) : 0;
        var tables = small == 0 ? m.Tables : [.. m.Tables.Where(t => !t.IsSmall)];
        var heap = tables.Sum(t => t.HeapBytes) + m.LargeObjectBytes;
        var read = m.SourceReadBytesPerSecond ?? 0;
        var lane = m.TargetWriteBytesPerSecond ?? read;
        // Each lane keeps a source and a target session busy: on cores both servers share, half of them run a lane.
        var lanes = m.SharedCores is { } cores ? Math.Clamp(cores / 2, 1, o.Jobs) : o.Jobs;
        var builders = m.SharedCores is { } c ? Math.Clamp(c, 1, o.IndexJobs) : o.IndexJobs;
        var split = m.SharedCores is not { } few || few > 2 * o.Jobs;
        var largest = tables.Count == 0 ? 0 : tables.Max(t => t.HeapBytes);
        var rows = lane > 0 ? heap / (lane * lanes) : 0;
        if (!split && lane > 0)
        {
            rows = Math.Max(rows, largest / lane);
        }

        var eachIndex = tables.Select(t => IndexSeconds(m, t)).ToList();
        var eachAnalyze = tables.Select(t => AnalyzeSeconds(m, t)).ToList();
        var allIndexes = eachIndex.Sum(e => e.Sum());
        var longestIndex = eachIndex.Select(e => e.DefaultIfEmpty(0).Max()).DefaultIfEmpty(0).Max();
        // One index is built by one builder: the longest bounds them however many there are.
        var indexes = Math.Max((allIndexes + eachAnalyze.Sum()) / builders, longestIndex);
        // The copy builds a table's indexes once its rows are in, beside the next tables' rows (CopySchedule).
        var slots = Copy.CopyStart.LanesFor(o.Jobs, o.IndexJobs, m.SourceRoundTrip >= RoundTrip.Far || m.TargetRoundTrip >= RoundTrip.Far);
        var work = tables.Select((t, i) => (Rows: RowsUnits(t.HeapBytes, lane, split, o.Jobs), Indexes: (IReadOnlyList<double>)eachIndex[i], Analyze: eachAnalyze[i], Bytes: t.TotalBytes)).ToList();
        if (m.LargeObjectBytes > 0 && lane > 0)
        {
            var parts = (int)Math.Clamp(m.LargeObjects, 1, Math.Max(1, o.Jobs));
            work.Add(([.. Enumerable.Repeat(m.LargeObjectBytes / lane / parts, parts)], [], 0, m.LargeObjectBytes));
        }

        // The foreign keys between the tables it plays are checked beside its last builds (Copy/EarlyForeignKeys), the rest after.
        var (early, late) = ForeignKeysOf(m, tables);
        var scheduled = lane > 0 ? CopySchedule.Seconds(work, o.Jobs, o.IndexJobs, slots, m.SharedCores, checks: early) : indexes;
        var trip = Math.Max(m.SourceRoundTrip.TotalSeconds, m.TargetRoundTrip?.TotalSeconds ?? 0);
        var trips = (3.0 * tables.Count * trip + 3.0 * m.LargeObjects * (m.TargetRoundTrip?.TotalSeconds ?? trip)) / o.Jobs;
        // A small table's statements mostly wait on round trips, and their work is light for the copy's gate: every
        // session the copy opens works them at once (Copy/SmallTables), where the sample ran them one after another.
        var smalls = small * (m.SmallTableSeconds ?? 0) / (o.Jobs + o.IndexJobs);
        // The schema's dump and its making on the target: as long again as the dump (bench/objects.sh: pg_restore's
        // pre-data and post-data of tiny tables take about what pg_dump took to write them).
        var schema = 2 * (m.SchemaDumpSeconds ?? 0);
        // The post-data's foreign keys' checks, once every table's rows are in: the copy's with its index builders' sessions.
        var copyChecks = ForeignKeySeconds(m, lane > 0 ? late : m.ForeignKeys, o.IndexJobs);
        var copy = scheduled + trips + smalls + schema + (copyChecks ?? 0);
        var smallText = small == 0 ? "" : Line($", {small} small tables {smalls:0.#} s ({o.Jobs + o.IndexJobs} sessions)");
        var coresText = m.SharedCores is { } shared ? Line($", on {shared} cores both servers share") : "";
        basis.Add(Line($"direct copy: rows and indexes {scheduled:0.#} s as the copy schedules them ({o.Jobs} lane(s), {o.IndexJobs} builder(s), {slots} at once{coresText}; a table's index builds beside the next tables' rows), of which rows {rows:0.#} s ({lanes} lane(s) at once{(split || largest < SplitBytes ? "" : ", the largest table in one")}), indexes and ANALYZE {indexes:0.#} s ({builders} builder(s)); round trips {trips:0.#} s ({tables.Count} tables, {m.LargeObjects} large objects){smallText}, the schema's dump and restore {schema:0.#} s{ChecksText(m, copyChecks, o.IndexJobs, lane > 0 ? early.Count : 0)}; the tool's start not counted."));

        var dump = read > 0 ? heap / read : 0;
        var restore = (lane > 0 ? heap / lane : 0) + indexes + trips + smalls + schema;
        var following = o.Jobs > 1 && read > 0 && lane > 0 ? Following(m, o, tables, eachIndex, eachAnalyze, read, lane) + trips + smalls + schema : (double?)null;
        var restoreChecks = ForeignKeySeconds(m, m.ForeignKeys, o.Jobs);
        var dumpRestore = (following ?? dump + restore) + (restoreChecks ?? 0);
        var together = following is { } f
            ? Line($"; migrate with --jobs {o.Jobs} restores while it dumps: {f:0.#} s, the archive's tables on {o.Jobs} lanes as pg_dump writes them, each table's index builds once its rows are in ({o.Jobs} builders)")
            : "";
        basis.Add(Line($"dump + restore: dump {dump:0.#} s at the source's read rate (its compression not measured), restore {restore:0.#} s at one lane's rate with the same index builds, small tables and schema steps{together}; the staged path adds the store's upload and download, not measured{ChecksText(m, restoreChecks, o.Jobs)}."));

        var (measuredCopy, measuredDumpRestore) = (copy, dumpRestore);
        (copy, dumpRestore) = Learned(copy, dumpRestore, o.Past, basis);
        var wal = m.SourceWalBytesPerSecond;
        double? slot = wal * copy;
        double? catchUp = wal is not { } w ? null : w == 0 ? 0 : lane > w ? slot / (lane - w) : null;
        double? online = null;
        if (wal is { } walRate)
        {
            var drain = lane > 0 ? walRate * o.CutoverLag.TotalSeconds / lane : 0;
            var (toSource, toTarget) = (m.SourceRoundTrip.TotalSeconds, m.TargetRoundTrip?.TotalSeconds ?? m.SourceRoundTrip.TotalSeconds);
            var sequenceBatches = Math.Max(1, Copy.SequenceSync.Trips(m.Sequences));
            var switchTrips = (CutoverSourceTrips * toSource) + (CutoverTargetTrips * toTarget) + (CutoverBothTrips * Math.Max(toSource, toTarget)) + ((sequenceBatches - 1) * toTarget);
            online = drain + switchTrips;
            var targetTrip = m.TargetRoundTrip is null ? ", the target's taken as the source's" : "";
            basis.Add(Line($"online: the slot holds the WAL written during the copy; the apply, one session, taken at one lane's rate ({Units.Rate(lane)}); the cutover applies the last {o.CutoverLag.TotalSeconds:0} s of lag ({drain:0.##} s) and makes about {CutoverSourceTrips} round trips to the source, {CutoverTargetTrips} to the target and {CutoverBothTrips} to both at once{(sequenceBatches > 1 ? $", {sequenceBatches - 1} more to the target for its {m.Sequences} sequences" : "")} ({switchTrips:0.###} s{targetTrip})."));
            if (o.Past is { ActualOnlineDowntime: { } before } && before > online)
            {
                basis.Add(Line($"online: the cutover of migration {o.Past.Id} between these servers held writes for {Time(before)}: taken as this one's downtime, more than the round trips above count."));
                online = before;
            }

            if (catchUp is null)
            {
                basis.Add("online: the source writes WAL faster than one lane applies it: the follow would not catch up.");
            }
        }

        var (path, why) = Recommend(copy, dumpRestore, online, catchUp, o.MaxDowntime);
        return new Estimate(copy, dumpRestore, dumpRestore, wal, slot, catchUp, copy, online, path, why, basis, m)
        {
            MeasuredCopySeconds = measuredCopy,
            MeasuredDumpRestoreSeconds = measuredDumpRestore,
        };
    }

    /// <summary>
    /// The copy's and dump + restore's predictions corrected by how far the last migration between these servers was
    /// from its own (its actual over its predicted, bounded): what the measurement cannot see (the schema's dump and
    /// restore, the tool's start, the servers' caches) is much the same from one run to the next.
    /// </summary>
    private static (double Copy, double DumpRestore) Learned(double copy, double dumpRestore, PastEstimate? past, List<string> basis)
    {
        if (past is null)
        {
            return (copy, dumpRestore);
        }

        var copyFactor = PastEstimate.Factor(past.PredictedCopy, past.ActualCopy);
        var restoreFactor = PastEstimate.Factor(past.PredictedDumpRestore, past.ActualDumpRestore);
        if (copyFactor is null && restoreFactor is null)
        {
            return (copy, dumpRestore);
        }

        // A path not run then takes the other's factor: what the measurement misses is mostly common to both (the
        // schema's dump and restore, the tool's start), and correcting one path alone would tilt the advice to the other.
        string Part(string what, double? factor, double? predicted, double? actual, string other) =>
            factor is { } f ? Line($"{what} ×{f:0.##} (predicted {Time(predicted!.Value)}, took {Time(actual!.Value)})") : Line($"{what} by the {other}'s factor (not run then)");
        basis.Add($"learned from migration {past.Id} between these servers ({past.At.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}): " +
            $"{Part("direct copy", copyFactor, past.PredictedCopy, past.ActualCopy, "dump + restore")}, {Part("dump + restore", restoreFactor, past.PredictedDumpRestore, past.ActualDumpRestore, "direct copy")}.");
        return (copy * (copyFactor ?? restoreFactor!.Value), dumpRestore * (restoreFactor ?? copyFactor!.Value));
    }

    /// <summary>
    /// Each index of a table, in seconds of one builder, from the measured B-tree build: a B-tree by its rows, its sort
    /// taking longer per row as its rows grow (n log n from the sample's rows); an index of another kind by its size
    /// weighed by its kind (a GIN index over jsonb holds several entries a row and builds several times slower a byte:
    /// counted by its rows, a 1.5-million-row one was predicted at 0.9 s and took 41 s under load), at the sample's
    /// rate in bytes; by its rows where the catalog has no size for it, or the sample's size was not read.
    /// </summary>
    private static IReadOnlyList<double> IndexSeconds(EstimateMeasures m, EstimateTable t)
    {
        if (m.IndexRowsPerSecond is not { } rate || rate <= 0)
        {
            return [];
        }

        var sample = Math.Log(Math.Max(m.IndexSampleRows, 2));
        return [.. t.IndexKinds.Select((kind, i) =>
        {
            var weighed = t.WeighedIndexBytes is { } sizes && i < sizes.Count ? sizes[i] : 0;
            return kind != "btree" && weighed > 0 && m.IndexBytesPerSecond is > 0
                ? weighed / m.IndexBytesPerSecond.Value
                : t.Rows / rate * Math.Max(1, Math.Log(Math.Max(t.Rows, 2)) / sample);
        })];
    }

    /// <summary>
    /// The rows and index builds of migrate's dump + restore with more than one job, played out (<see cref="CopySchedule"/>):
    /// pg_dump writes the tables' rows one after another in the archive's order (by schema, then name), at the source's
    /// read rate, and the restore's lanes (<c>Restore/ScheduledRestore</c>) follow the archive, each table at one lane's
    /// rate and whole (a pg_restore lane does not split a table), its index builds and ANALYZE once its rows are in,
    /// as many builders as lanes; the large objects last.
    /// </summary>
    private static double Following(EstimateMeasures m, EstimateOptions o, IReadOnlyList<EstimateTable> tables, List<IReadOnlyList<double>> indexes, List<double> analyze, double read, double lane)
    {
        var work = tables.Select((t, i) => (Rows: (IReadOnlyList<double>)[t.HeapBytes / lane], Indexes: indexes[i], Analyze: analyze[i], Bytes: t.TotalBytes)).ToList();
        var feed = tables.Select((t, i) => (Table: t, Index: i))
            .OrderBy(x => x.Table.Schema, StringComparer.Ordinal).ThenBy(x => x.Table.Name, StringComparer.Ordinal)
            .Select(x => (x.Index, x.Table.HeapBytes / read)).ToList();
        if (m.LargeObjectBytes > 0)
        {
            feed.Add((work.Count, m.LargeObjectBytes / read));
            work.Add(([m.LargeObjectBytes / lane], [], 0, m.LargeObjectBytes));
        }

        return CopySchedule.Seconds(work, o.Jobs, o.Jobs, 2 * o.Jobs, m.SharedCores, feed);
    }

    /// <summary>
    /// <paramref name="keys"/>' checks (<see cref="ForeignKeyChecks"/>) on <paramref name="jobs"/> sessions, no more at once than
    /// the cores both servers share: each by its rows at the measured rate. Null where the source has
    /// foreign keys and no rate was measured; 0 where it has none.
    /// </summary>
    private static double? ForeignKeySeconds(EstimateMeasures m, IReadOnlyList<EstimateForeignKey> keys, int jobs)
    {
        if (m.ForeignKeys.Count == 0)
        {
            return 0;
        }

        if (m.ForeignKeyRowsPerSecond is not { } rate || rate <= 0)
        {
            return null;
        }

        var checks = keys.Select(k => (k.Referencing, k.Referenced, ForeignKeyChecks.CheckSeconds(k.ReferencingRows, k.ReferencedRows, rate))).ToList();
        return ForeignKeyChecks.Seconds(checks, Math.Min(jobs, m.SharedCores ?? jobs));
    }

    /// <summary>
    /// The copy's foreign keys in two: those between tables it plays (<paramref name="tables"/>, by their index there;
    /// -1 for a small table, complete from the start), each check's seconds at the measured rate, which the copy makes
    /// while its data phase goes on; and the rest (a partitioned table's), after it. All after where no rate was measured.
    /// </summary>
    private static (List<(int Referencing, int Referenced, double Seconds)> Early, List<EstimateForeignKey> Late) ForeignKeysOf(EstimateMeasures m, IReadOnlyList<EstimateTable> tables)
    {
        var early = new List<(int, int, double)>();
        var late = new List<EstimateForeignKey>();
        var played = tables.Select((t, i) => (t.Oid, i)).Where(x => x.Oid != 0).ToDictionary(x => x.Oid, x => x.i);
        var small = m.Tables.Where(t => t.Oid != 0 && !played.ContainsKey(t.Oid)).Select(t => t.Oid).ToHashSet();
        int? At(long oid) => played.TryGetValue(oid, out var i) ? i : small.Contains(oid) ? -1 : null;
        foreach (var k in m.ForeignKeys)
        {
            if (m.ForeignKeyRowsPerSecond is { } rate && rate > 0 && At(k.Referencing) is { } a && At(k.Referenced) is { } b)
            {
                early.Add((a, b, ForeignKeyChecks.CheckSeconds(k.ReferencingRows, k.ReferencedRows, rate)));
            }
            else
            {
                late.Add(k);
            }
        }

        return (early, late);
    }

    /// <summary>What the basis says of the foreign keys' checks in a path's time: nothing where the source has none; <paramref name="early"/> of them played with the rows and builds.</summary>
    private static string ChecksText(EstimateMeasures m, double? seconds, int jobs, int early = 0) =>
        m.ForeignKeys.Count == 0 ? ""
        : seconds is not { } s ? Line($", the foreign keys' checks not counted ({m.ForeignKeys.Count}; their rate not measured)")
        : early == m.ForeignKeys.Count ? Line($", the foreign keys' checks ({early}) with the builds, each once both its tables are complete and the rows in")
        : Line($", the foreign keys' checks {s:0.#} s ({m.ForeignKeys.Count - early}, {Math.Min(jobs, m.SharedCores ?? jobs)} at once, one table's one after another){(early > 0 ? Line($"; {early} more checked with the builds, each once both its tables are complete and the rows in") : "")}");

    /// <summary>A table's ANALYZE at the measured cost, a table of fewer rows than the sample at its share of it.</summary>
    private static double AnalyzeSeconds(EstimateMeasures m, EstimateTable t) =>
        m.Analyze is { } a && a.Rows > 0 ? a.Took.TotalSeconds * Math.Min(1.0, t.Rows / (double)a.Rows) : 0;

    /// <summary>
    /// A table's rows as the copy takes them, in seconds of one lane alone: one unit, or where it splits (cores enough,
    /// see <see cref="Predict"/>) page ranges of about <see cref="SplitBytes"/>, as <see cref="Copy.DataPhase.PartsOf"/> cuts them.
    /// </summary>
    private static IReadOnlyList<double> RowsUnits(long heap, double lane, bool split, int jobs)
    {
        if (lane <= 0)
        {
            return [];
        }

        var parts = split ? Copy.DataPhase.PartsOf(heap, SplitBytes, jobs) : 1;
        return [.. Enumerable.Repeat(heap / lane / parts, parts)];
    }

    private static (string Path, string Why) Recommend(double copy, double dumpRestore, double? online, double? catchUp, TimeSpan? budget)
    {
        var offline = copy <= dumpRestore ? ("direct copy", copy) : ("dump and restore", dumpRestore);
        var onlineText = online is { } d ? $"online would hold writes for about {Time(d)}" + (catchUp is { } c ? $" and catch up {Time(c)} after its copy" : ", but its follow would not catch up") : "online's downtime could not be predicted (no WAL rate)";
        if (budget is not { } limit)
        {
            return ("offline " + offline.Item1, $"the fastest path, {Time(offline.Item2)} of write downtime; {onlineText}. Give --max-downtime to weigh them.");
        }

        if (offline.Item2 <= limit.TotalSeconds)
        {
            return ("offline " + offline.Item1, $"its write downtime, about {Time(offline.Item2)}, fits --max-downtime {Time(limit.TotalSeconds)}; {onlineText}.");
        }

        if (online is { } o && catchUp is not null && o <= limit.TotalSeconds)
        {
            return ("online", $"offline's downtime, about {Time(offline.Item2)}, exceeds --max-downtime {Time(limit.TotalSeconds)}; {onlineText}.");
        }

        return ("none", $"offline's downtime, about {Time(offline.Item2)}, exceeds --max-downtime {Time(limit.TotalSeconds)}, and {onlineText}.");
    }

    private static string Time(double seconds) => Units.Duration(TimeSpan.FromSeconds(seconds));

    private static string Line(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

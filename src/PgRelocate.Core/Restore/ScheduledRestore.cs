using System.Threading.Channels;
using PgRelocate.Archives;
using PgRelocate.Runners;
using PgRelocate.Tools;

namespace PgRelocate.Restore;

/// <summary>
/// A parallel restore that schedules its own pg_restore runs over parts of the archive, instead of pg_restore's own
/// parallel mode: of an archive still being written into an <see cref="ArchiveSpool"/> by our own dump (which
/// pg_restore's parallel mode cannot read: it needs the whole file), so the restore does not wait for the whole
/// archive; and of a whole local file of many tables with more than one job (see <see cref="WholeFileTables"/>), where
/// pg_restore's parallel mode spends time before its first statement that grows faster than the archive's table of
/// contents (16.7 s for one entry of 20,000 tables' archive with --jobs 2, 0.23 s serially):
/// <list type="number">
/// <item>the table of contents (read by <see cref="ArchiveContents"/>), as soon as it is written, and the pre-data section;</item>
/// <item>table rows on <c>jobs</c> lanes, each a serial pg_restore of its tables (largest first across lanes, when
///   the sizes are known), which follows a growing archive through a pipe and reads a whole file by its data offsets;</item>
/// <item>each table's indexes as soon as its rows are in (GIN and GiST first: they take longest), on
///   <c>jobs</c> index builders, then its primary key, unique and exclusion constraints; small tables' (see
///   <see cref="SmallTableBytes"/>) in batches, one pg_restore run for a batch's indexes and constraints and one
///   ANALYZE for its tables;</item>
/// <item>once the archive is whole, the rest of post-data (triggers, partitioned indexes, materialized views), with
///   pg_restore's own jobs only where they pay (see <see cref="PostDataRest"/>); then the foreign keys, added NOT VALID
///   and validated side by side (see <see cref="ForeignKeyValidation"/>).</item>
/// </list>
/// Anything that cannot be tied to a table goes to the last part, so nothing is restored out of order.
/// </summary>
/// <param name="path">The archive's file: whole, or the spool's while <paramref name="growing"/> writes it.</param>
/// <param name="growing">The spool the dump still writes the archive into; null for a whole file.</param>
/// <param name="analyze">ANALYZEs tables (schema, name), in one session; each loaded table is analyzed once its indexes and keys are built.</param>
/// <param name="indexSettings">Session settings for building one index, given its statement (see <see cref="IndexBuilds"/>); null for the defaults.</param>
internal sealed class ScheduledRestore(
    string path, ArchiveSpool? growing, int jobs, IReadOnlyDictionary<string, long>? tableBytes, string workFolder, RestoreParts parts,
    Func<IReadOnlyList<(string Schema, string Name)>, CancellationToken, Task>? analyze = null, Func<string, CancellationToken, Task<string?>>? indexSettings = null)
{
    /// <summary>
    /// A table of at most this many bytes (as the dump's sizes say: the catalog's pages, so a table never vacuumed
    /// or analyzed counts as small; for a whole file without them, its rows' compressed bytes in the archive; one
    /// missing from the sizes does not) without a GIN or GiST index has its indexes
    /// and keys built with other small tables'. Built one by one, each index and each table's keys cost a pg_restore
    /// process and each table's ANALYZE a session: at 1,000 tiny tables that took the restore 43 s of a 45 s
    /// migration; in batches the migration takes 6.4 s. A large table batched by a stale size only loses the
    /// building of its indexes side by side.
    /// </summary>
    internal const long SmallTableBytes = 1 << 20;

    /// <summary>At least this many small tables in one batch (see <see cref="SmallBatchSize"/>), so the index builders share them and start early.</summary>
    internal const int SmallBatch = 50;

    /// <summary>
    /// How many batches of small tables each job builds at most. Every batch's pg_restore run reads the archive's whole
    /// table of contents, which grows with the tables: batches of a fixed size made the cost grow with the square of
    /// the tables (at 5,000 tiny tables 100 runs of 48 ms each before any index was built, at 20,000 400 runs of about
    /// 200 ms); a bounded number of batches keeps it growing with the tables, as the indexes do.
    /// </summary>
    internal const int BatchesPerJob = 8;

    /// <summary>
    /// A whole file with more than one job is restored here from this many tables' rows up; below, by pg_restore's own
    /// parallel mode, whose start is then well under a second, which runs any step beside any other (a table's rows
    /// beside another's foreign key) with as many sessions as jobs. Measured on two cores, `restore --jobs 2` with
    /// pg_restore's parallel mode against scheduled here: 6 tables of 200,000 to 6 M rows with 5 foreign keys, 14.9 s
    /// against 16.5 to 17.8 s; pgbench scale 150 with the events table, 31 to 34 s both ways; 1,000 tiny tables 1.4 s
    /// both ways; 5,000, 7.3 against 5.7 s; 20,000, 47.7 against 24.9 s.
    /// </summary>
    internal const int WholeFileTables = 2000;

    /// <summary>Whether a whole file of these entries is restored here (see <see cref="WholeFileTables"/>) rather than by pg_restore's parallel mode.</summary>
    public static bool SchedulesWholeFile(IEnumerable<ArchiveEntry> entries) => entries.Count(e => e.Kind == ArchiveToc.TableData) >= WholeFileTables;

    private int _smallBatch = SmallBatch;

    private readonly List<string> _small = [];
    private Dictionary<string, (string Schema, string Name)> _names = [];
    private readonly IReadOnlyList<ArchiveEntry> _toc = parts.Toc;
    private readonly Channel<Func<CancellationToken, Task>> _indexWork = Channel.CreateUnbounded<Func<CancellationToken, Task>>();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _loaded = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentBag<(string Schema, string Name)> _analyzed = [];
    private Dictionary<string, TablePostData> _postData = [];
    private int _tablesPending;

    /// <summary>The tables already analyzed (schema, name): the rest still need it.</summary>
    public IReadOnlyCollection<(string Schema, string Name)> Analyzed => _analyzed;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = failed.Token;

        // 1. Pre-data, which needs only the table of contents: it is at the front of the archive, already written.
        // Then the rows that stay out (see ExtensionTables); each loaded table's indexes and keys are known from their entries.
        await parts.RunPreDataAsync(path, jobs, workFolder, token);
        var skipped = await parts.SkipUnwritableExtensionRowsAsync(token);
        IReadOnlyList<ArchiveEntry> restored = [.. _toc.Where(e => !skipped.Contains(e.Id))];
        _postData = PlanPostData(restored);
        _names = restored.Where(e => e.Kind == ArchiveToc.TableData && e.Schema is not null)
            .GroupBy(e => e.QualifiedTag, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (g.First().Schema!, g.First().Tag), StringComparer.Ordinal);
        var early = _postData.Values.SelectMany(p => p.Indexes.Concat(p.Constraints)).Select(e => e.Id).ToHashSet();
        _smallBatch = SmallBatchSize(_names.Keys.Count(IsSmall), jobs);

        // 2. Rows on lanes that follow the archive; indexes and key constraints of each table once it is loaded.
        var lanes = PlanLanes(restored, jobs, tableBytes);
        _tablesPending = lanes.SelectMany(l => l).Where(e => e.Kind == ArchiveToc.TableData).Select(e => e.QualifiedTag).Distinct(StringComparer.Ordinal).Count();
        var laneTasks = lanes.Select((lane, i) => Workers.Guard(RunLaneAsync(i + 1, lane, token), failed)).ToList();
        var builders = Enumerable.Range(0, jobs).Select(_ => Workers.Guard(IndexBuilderAsync(token), failed)).ToList();
        if (_tablesPending == 0)
        {
            _indexWork.Writer.TryComplete();
        }

        await Workers.WhenAllAsync([.. laneTasks, .. builders], cancellationToken);

        // 3. The rest of post-data, from the whole archive; the foreign keys then validated side by side (ForeignKeyValidation).
        await (growing?.Completion ?? Task.CompletedTask).WaitAsync(cancellationToken);
        var (rest, keys, after) = ForeignKeyValidation.Split([.. _toc.Where(e => !early.Contains(e.Id))]);
        if (rest.Any(e => e.Section == ArchiveSection.PostData))
        {
            var list = await WriteListAsync("post-data.list", rest.Select(e => e.ListLine), cancellationToken);
            var restJobs = await PostDataRest.JobsAsync(rest, jobs, () => parts.TargetIsFarAsync(cancellationToken));
            await parts.RunAsync(new PgRestoreCall("post-data") { Archive = path, Sections = ArchiveSections.PostData, EntryList = list, Jobs = restJobs }, cancellationToken);
        }

        await parts.ValidateForeignKeysAsync(path, keys, after, jobs, workFolder, cancellationToken);
    }

    /// <summary>
    /// Table rows split over <paramref name="lanes"/> lists, each in archive order (a lane reads the archive
    /// once, front to back): largest table first onto the lightest lane. Sequence values and large objects
    /// (every other data entry) go to the first lane; the section filter keeps anything else out.
    /// </summary>
    internal static IReadOnlyList<IReadOnlyList<ArchiveEntry>> PlanLanes(IReadOnlyList<ArchiveEntry> toc, int lanes, IReadOnlyDictionary<string, long>? tableBytes)
    {
        var position = toc.Select((e, i) => (e.Id, i)).ToDictionary(x => x.Id, x => x.i);
        var load = new long[Math.Max(1, lanes)];
        var assigned = load.Select(_ => new List<ArchiveEntry>()).ToArray();
        var tables = toc.Where(e => e.Kind == ArchiveToc.TableData)
            .Select((e, i) => (Entry: e, Bytes: tableBytes?.GetValueOrDefault(e.QualifiedTag) ?? 0, Order: i))
            .OrderByDescending(t => t.Bytes).ThenBy(t => t.Order);
        var next = 0;
        foreach (var (entry, bytes, _) in tables)
        {
            // Without sizes, round-robin in archive order; with them, onto the lane with the least to load.
            var lane = tableBytes is null ? next++ % load.Length : Array.IndexOf(load, load.Min());
            load[lane] += Math.Max(bytes, 1);
            assigned[lane].Add(entry);
        }

        assigned[0].AddRange(toc.Where(e => e.Kind != ArchiveToc.TableData));
        return assigned.Where(a => a.Count > 0).Select(a => (IReadOnlyList<ArchiveEntry>)[.. a.OrderBy(e => position[e.Id])]).ToList();
    }

    /// <summary>The bytes of each table's rows in the archive ("schema.name" → bytes), from the bytes of each entry's data (by dump id).</summary>
    internal static IReadOnlyDictionary<string, long> TableBytes(IEnumerable<ArchiveEntry> entries, IReadOnlyDictionary<int, long> dataBytes) =>
        entries.Where(e => e.Kind == ArchiveToc.TableData)
            .GroupBy(e => e.QualifiedTag, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(e => dataBytes.GetValueOrDefault(e.Id)), StringComparer.Ordinal);

    /// <summary>Each loaded table's index and constraint entries, found by the table they depend on; their statements are their definitions.</summary>
    internal static Dictionary<string, TablePostData> PlanPostData(IReadOnlyList<ArchiveEntry> entries)
    {
        var byId = entries.ToDictionary(e => e.Id);
        var loaded = entries.Where(e => e.Kind == ArchiveToc.TableData).Select(e => e.QualifiedTag).ToHashSet(StringComparer.Ordinal);
        var plan = new Dictionary<string, TablePostData>(StringComparer.Ordinal);
        foreach (var entry in entries.Where(e => e.Kind is ArchiveToc.Index or ArchiveToc.Constraint))
        {
            var sql = entry.Definition.Trim();
            if (ArchiveToc.TableOf(entry, byId.GetValueOrDefault) is not { } table || !loaded.Contains(table))
            {
                continue;
            }

            if (!plan.TryGetValue(table, out var post))
            {
                plan[table] = post = new TablePostData();
            }

            if (entry.Kind == ArchiveToc.Index)
            {
                var slow = IndexBuilds.IsSlow(sql);
                post.Indexes.Insert(slow ? post.Indexes.TakeWhile(i => i.Slow).Count() : post.Indexes.Count, new PlannedEntry(entry.Id, entry.ListLine, slow, sql));
            }
            else
            {
                post.Constraints.Add(new PlannedEntry(entry.Id, entry.ListLine, false, sql));
            }
        }

        return plan;
    }

    /// <summary>One lane: a pg_restore of its table rows, following a growing archive or reading the whole file; each table is handed to the index builders when the next begins.</summary>
    private async Task RunLaneAsync(int number, IReadOnlyList<ArchiveEntry> lane, CancellationToken cancellationToken)
    {
        var list = await WriteListAsync($"lane-{number}.list", lane.Select(e => e.ListLine), cancellationToken);
        var tables = lane.Where(e => e.Kind == ArchiveToc.TableData).Select(e => e.QualifiedTag).ToHashSet(StringComparer.Ordinal);
        string? current = null;
        void OnStep(PgRestoreStep step)
        {
            // Any next step means the table before it is in.
            if (step.Kind is PgRestoreStepKind.Creating or PgRestoreStepKind.Finished)
            {
                return;
            }

            if (current is not null)
            {
                TableLoaded(current);
            }

            current = step.Table is { } table && tables.Contains(table) ? table : null;
        }

        var call = new PgRestoreCall($"lane {number}") { Sections = ArchiveSections.Data, EntryList = list, OnStep = OnStep };
        if (growing is null)
        {
            await parts.RunAsync(call with { Archive = path }, cancellationToken);
        }
        else
        {
            await using var follower = growing.OpenReader();
            await parts.RunAsync(call with { Stdin = follower }, cancellationToken);
        }

        foreach (var table in tables)
        {
            TableLoaded(table);
        }
    }

    /// <summary>
    /// Hands a loaded table's indexes to the builders (once; the lane's end calls it for all its tables): a small one's
    /// into the next batch, which goes when it is full or the last table is in.
    /// </summary>
    private void TableLoaded(string table)
    {
        if (!_loaded.TryAdd(table, true))
        {
            return;
        }

        var post = _postData.GetValueOrDefault(table) ?? new TablePostData();
        var small = IsSmall(table);
        if (!small)
        {
            QueueTable(table, post);
        }

        // Counted and batched under one lock: the table that is last in sends every small table before it.
        string[]? batch = null;
        bool last;
        lock (_small)
        {
            if (small)
            {
                _small.Add(table);
            }

            last = --_tablesPending == 0;
            if (_small.Count >= _smallBatch || (last && _small.Count > 0))
            {
                batch = [.. _small];
                _small.Clear();
            }
        }

        if (batch is not null)
        {
            _indexWork.Writer.TryWrite(ct => FinishSmallTablesAsync(batch, ct));
        }

        if (last)
        {
            _indexWork.Writer.TryComplete();
        }
    }

    /// <summary>
    /// The tables a batch of small ones holds: <see cref="SmallBatch"/>, or more where there are more small tables than
    /// <see cref="BatchesPerJob"/> batches of it for each of <paramref name="jobs"/> builders.
    /// </summary>
    internal static int SmallBatchSize(int smallTables, int jobs) =>
        Math.Max(SmallBatch, (int)Math.Ceiling(smallTables / (double)(BatchesPerJob * Math.Max(1, jobs))));

    /// <summary>A table of at most <see cref="SmallTableBytes"/> without a GIN or GiST index: its indexes and keys go in a batch.</summary>
    private bool IsSmall(string table) =>
        tableBytes?.GetValueOrDefault(table, long.MaxValue) <= SmallTableBytes && !(_postData.GetValueOrDefault(table)?.Indexes.Any(i => i.Slow) ?? false);

    /// <summary>A table's indexes, one piece of work each (with their session settings), then its keys and statistics.</summary>
    private void QueueTable(string table, TablePostData post)
    {
        var left = post.Indexes.Count;
        foreach (var index in post.Indexes)
        {
            _indexWork.Writer.TryWrite(async ct =>
            {
                var settings = indexSettings is null ? null : await indexSettings(index.Sql, ct);
                await RunEntriesAsync($"index {table}", [index], ct, settings);
                if (Interlocked.Decrement(ref left) == 0)
                {
                    await FinishTableAsync(table, post, ct);
                }
            });
        }

        if (left == 0)
        {
            _indexWork.Writer.TryWrite(ct => FinishTableAsync(table, post, ct));
        }
    }

    /// <summary>A table's keys once its indexes are built (they lock it whole), then its statistics.</summary>
    private async Task FinishTableAsync(string table, TablePostData post, CancellationToken cancellationToken)
    {
        await RunEntriesAsync($"constraints {table}", post.Constraints, cancellationToken);
        await AnalyzeAsync([table], cancellationToken);
    }

    /// <summary>A batch of small tables: every index, then every key, in one pg_restore run; then their statistics in one session.</summary>
    private async Task FinishSmallTablesAsync(IReadOnlyList<string> tables, CancellationToken cancellationToken)
    {
        var posts = tables.Select(t => _postData.GetValueOrDefault(t) ?? new TablePostData()).ToList();
        await RunEntriesAsync($"indexes and keys of {tables.Count} small tables", [.. posts.SelectMany(p => p.Indexes), .. posts.SelectMany(p => p.Constraints)], cancellationToken);
        await AnalyzeAsync(tables, cancellationToken);
    }

    private async Task AnalyzeAsync(IReadOnlyList<string> tables, CancellationToken cancellationToken)
    {
        if (analyze is null)
        {
            return;
        }

        var names = tables.Where(_names.ContainsKey).Select(t => _names[t]).ToList();
        if (names.Count > 0)
        {
            await analyze(names, cancellationToken);
            foreach (var name in names)
            {
                _analyzed.Add(name);
            }
        }
    }

    private async Task RunEntriesAsync(string label, IReadOnlyList<PlannedEntry> entries, CancellationToken cancellationToken, string? settings = null)
    {
        if (entries.Count == 0)
        {
            return;
        }

        var list = await WriteListAsync($"entry-{entries[0].Id}.list", entries.Select(e => e.Line), cancellationToken);
        await parts.RunAsync(new PgRestoreCall(label) { Archive = path, Sections = ArchiveSections.PostData, EntryList = list, Settings = settings }, cancellationToken);
    }

    private async Task IndexBuilderAsync(CancellationToken cancellationToken)
    {
        await foreach (var work in _indexWork.Reader.ReadAllAsync(cancellationToken))
        {
            await work(cancellationToken);
        }
    }

    private async Task<string> WriteListAsync(string name, IEnumerable<string> lines, CancellationToken cancellationToken)
    {
        var path = Path.Combine(workFolder, name);
        await File.WriteAllLinesAsync(path, lines, cancellationToken);
        return path;
    }
}

/// <summary>A post-data entry of one table: its line of the table of contents and its statement.</summary>
internal sealed record PlannedEntry(int Id, string Line, bool Slow, string Sql);

internal sealed class TablePostData
{
    public List<PlannedEntry> Indexes { get; } = [];

    public List<PlannedEntry> Constraints { get; } = [];
}

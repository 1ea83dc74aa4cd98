using System.Diagnostics;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Verify;

/// <summary>
/// Compares a source and a target database: schema objects, every table's contents (counts or full
/// digests, locating differing rows by key), and user queries. It only reads: every session is read-only.
/// </summary>
public static class Verifier
{
    /// <summary>Runs the whole verification and returns what it found; differences are results, not errors.</summary>
    /// <exception cref="PgRelocateException">A side could not be reached or read (exit 1), or bad input (exit 2).</exception>
    public static async Task<VerificationResult> RunAsync(VerifyOptions options, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(reporter);
        if (options.Jobs is < 1)
        {
            throw new UsageException("--jobs must be at least 1.");
        }

        if (options.MaxRows < 0)
        {
            throw new UsageException("--max-rows must not be negative.");
        }

        var clock = Stopwatch.StartNew();
        var jobs = options.Jobs ?? VerifyOptions.SessionsPerSide(Environment.ProcessorCount, options.Source, options.Target);
        await using var source = new Sessions(options.Source, "source", options.SourceSnapshot);
        await using var target = new Sessions(options.Target, "target", options.TargetSnapshot);

        reporter.Progress(new ProgressUpdate("schema", 0, 2, "sides"));
        var withSchema = options.OnlyTables is null;
        var snapshots = await Task.WhenAll(SnapshotAsync(source, withSchema, cancellationToken), SnapshotAsync(target, withSchema, cancellationToken));
        var schemaDifferences = SchemaComparer.Compare(snapshots[0].Schema, snapshots[1].Schema);
        var withRoles = options.Roles && withSchema;
        List<ChosenDifference> chosen = [];
        if (withRoles)
        {
            var access = await Task.WhenAll(AccessAsync(source, cancellationToken), AccessAsync(target, cancellationToken));
            var found = AccessComparer.Compare(access[0], access[1], options.RoleRenames, options.PrivilegedAttributes);
            chosen = found.Chosen;
            found.Unused.ForEach(u => reporter.Log(LogLevel.Warning, u + "."));
            schemaDifferences = [.. schemaDifferences.Concat(found.Differences).OrderBy(d => d.Kind, StringComparer.Ordinal).ThenBy(d => d.Name, StringComparer.Ordinal)];
        }

        reporter.Progress(new ProgressUpdate("schema", 2, 2, "sides", Finished: true));

        var patterns = new TablePatterns(options.Tables);
        var tables = snapshots[0].Tables
            .Where(p => snapshots[1].Tables.ContainsKey(p.Key) && patterns.Matches(p.Key.Item1, p.Key.Item2) && Chosen(options, $"{p.Key.Item1}.{p.Key.Item2}"))
            .Select(p => TableInfo.Common(p.Value, snapshots[1].Tables[p.Key], valueHash: snapshots.All(s => s.ServerVersion >= 140000)))
            .OrderByDescending(t => t.Size)
            .ToList();
        var tableResults = await CompareTablesAsync(tables, source, target, options, jobs, reporter, cancellationToken);

        var queryResults = new List<QueryResult>();
        for (var i = 0; i < options.Queries.Count; i++)
        {
            reporter.Progress(new ProgressUpdate("queries", i, options.Queries.Count, "queries"));
            queryResults.Add(await QueryComparer.CompareAsync(options.Queries[i], options, cancellationToken));
        }

        if (options.Queries.Count > 0)
        {
            reporter.Progress(new ProgressUpdate("queries", options.Queries.Count, options.Queries.Count, "queries", Finished: true));
        }

        return new VerificationResult
        {
            Source = options.Source.ToString(),
            Target = options.Target.ToString(),
            Mode = options.Mode,
            ObjectCounts = SchemaComparer.Count(snapshots[0].Schema, snapshots[1].Schema),
            RolesCompared = withRoles,
            SchemaDifferences = schemaDifferences,
            ChosenDifferences = chosen,
            ProviderObjects = SchemaComparer.ProviderObjects(snapshots[0].Schema, snapshots[1].Schema),
            Tables = [.. tableResults.OrderBy(t => t.Name, StringComparer.Ordinal)],
            Queries = queryResults,
            ElapsedSeconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
        };
    }

    private static async Task<List<TableResult>> CompareTablesAsync(
        List<TableInfo> tables, Sessions source, Sessions target, VerifyOptions options, int jobs, IReporter reporter, CancellationToken cancellationToken)
    {
        var task = options.Mode == VerifyMode.Counts ? "row counts" : "checksums";
        var results = new List<TableResult>();
        var done = 0;
        reporter.Progress(new ProgressUpdate(task, 0, tables.Count, "tables"));
        var checker = new TableChecker(source, target, options);
        // The large tables one by one, largest first; then the small ones in batches (see TableChecker.CheckSmallAsync).
        var work = tables.Where(t => t.Size > TableChecker.SmallTableBytes).Select(t => (IReadOnlyList<TableInfo>)[t])
            .Concat(tables.Where(t => t.Size <= TableChecker.SmallTableBytes).Chunk(TableChecker.SmallTablesPerBatch));
        await Parallel.ForEachAsync(
            work,
            new ParallelOptions { MaxDegreeOfParallelism = jobs, CancellationToken = cancellationToken },
            async (unit, ct) =>
            {
                var checkedNow = unit.Count == 1 ? [await checker.CheckAsync(unit[0], ct)] : await checker.CheckSmallAsync(unit, ct);
                lock (results)
                {
                    results.AddRange(checkedNow);
                    done += checkedNow.Count;
                    reporter.Progress(new ProgressUpdate(task, done, tables.Count, "tables", Detail: unit[^1].Display));
                }
            });
        reporter.Progress(new ProgressUpdate(task, tables.Count, tables.Count, "tables", Finished: true));
        return results;
    }

    /// <summary>Whether <see cref="VerifyOptions.ExceptTables"/> and <see cref="VerifyOptions.OnlyTables"/> let a table ("schema.table") be compared.</summary>
    private static bool Chosen(VerifyOptions options, string table) =>
        !options.ExceptTables.Contains(table, StringComparer.Ordinal) && (options.OnlyTables?.Contains(table, StringComparer.Ordinal) ?? true);

    /// <summary>One side's owners, privileges and roles (verify --roles), read in a lease of its own.</summary>
    private static async Task<AccessComparer.Side> AccessAsync(Sessions side, CancellationToken cancellationToken)
    {
        await using var lease = await side.RentAsync(cancellationToken);
        try
        {
            return await AccessComparer.ReadAsync(lease.Connection, cancellationToken);
        }
        catch (Npgsql.PostgresException e)
        {
            throw new PgRelocateException($"Reading the owners, privileges and roles of the {side.Side} ({side.Info.Display}) failed: {e.MessageText} ({e.SqlState}).{Db.HintOf(e)}", ExitCode.Failed, e);
        }
    }

    private sealed record SideSnapshot(SchemaComparer.Snapshot Schema, Dictionary<(string, string), TableInfo> Tables, int ServerVersion);

    /// <summary>
    /// How long the catalog's read waits for a lock before it lets go of its own and tries again: well under the
    /// server's deadlock_timeout (1 s by default). An application's statement waiting for a lock this read holds has
    /// the server look for a cycle once it has waited that long; at 1 s, as this was, the read and the statement were
    /// even, and the server at times cancelled the application's statement (a partition maintenance job's) instead.
    /// </summary>
    private static readonly TimeSpan CatalogLockWait = TimeSpan.FromMilliseconds(100);

    /// <summary>Tries of the catalog's read that met a lock another session held: about a minute in all.</summary>
    private const int CatalogTries = 400;

    /// <summary>
    /// Reads one side's catalog. Describing indexes locks each of them in turn: should an application hold one
    /// (a TRUNCATE, an ALTER TABLE) and wait for one already described, the two would deadlock and the server
    /// might cancel the application. So the read never waits long for a lock: it gives its own back and tries
    /// again, and the application goes first.
    /// </summary>
    /// <param name="withSchema">False: the tables only, with an empty schema (nothing to compare but their contents).</param>
    private static async Task<SideSnapshot> SnapshotAsync(Sessions side, bool withSchema, CancellationToken cancellationToken)
    {
        try
        {
            // A read that waited too long lets go of what it holds (its lease ends), and the session that holds the lock goes on.
            return await TryAgain.TimesAsync(
                CatalogTries,
                e => e is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.LockNotAvailable },
                async ct =>
                {
                    await using var lease = await side.RentAsync(ct, (int)CatalogLockWait.TotalMilliseconds);
                    var schema = withSchema ? await SchemaComparer.ReadAsync(lease.Connection, side, ct) : new SchemaComparer.Snapshot([], [], [], []);
                    var tables = await TableInfo.ReadAsync(lease.Connection, ct);
                    var version = (await Catalog.ServerVersion.ReadAsync(lease.Connection, ct)).Number;
                    return new SideSnapshot(schema, tables, version);
                },
                cancellationToken,
                CatalogLockWait / 4);
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.LockNotAvailable)
        {
            throw new PgRelocateException($"Reading the catalog of the {side.Side} ({side.Info.Display}) waited {CatalogTries} times for a lock another session holds on a table or index (a long ALTER TABLE, TRUNCATE or REINDEX): let it finish, then run this again.", ExitCode.Failed, e);
        }
        catch (Npgsql.PostgresException e)
        {
            throw new PgRelocateException($"Reading the catalog of the {side.Side} ({side.Info.Display}) failed: {e.MessageText} ({e.SqlState}).{Db.HintOf(e)}", ExitCode.Failed, e);
        }
    }
}

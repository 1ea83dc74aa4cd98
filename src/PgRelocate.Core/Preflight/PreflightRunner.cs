using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Preflight.Checks;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Preflight;

/// <summary>
/// Connects to the source (and the target, when given), then runs every check in turn. Connection
/// failures are the one thing that stops the run (there is nothing to check); a check that fails for
/// any database reason becomes a warning row naming what it could not look at.
/// </summary>
public sealed class PreflightRunner
{
    private readonly IReadOnlyList<IPreflightCheck> _checks;

    public PreflightRunner(IReadOnlyList<IPreflightCheck>? checks = null)
    {
        _checks = checks ?? DefaultChecks();
    }

    /// <summary>Every check, in the order the report lists them; <paramref name="online"/>: the advice and downtime of an online migration.</summary>
    public static IReadOnlyList<IPreflightCheck> DefaultChecks(bool online = false) =>
    [
        new ConnectivityCheck(),
        new VersionsCheck(),
        new SizeCheck(),
        new ExtensionsCheck(),
        new LanguagesCheck(),
        new OwnershipCheck(),
        new LargeObjectsCheck(),
        new UnloggedTablesCheck(),
        new PrimaryKeysCheck(),
        new EventTriggersCheck(),
        new TablespacesCheck(),
        new EncodingCheck(),
        new UnreadableTablesCheck(),
        new TargetEmptyCheck(),
        new SourceLockTableCheck(),
        new TransactionsCheck(),
        new ApplicationsCheck(online),
        new DowntimeCheck(online: online),
    ];

    public async Task<PreflightReport> RunAsync(PgConnectionInfo source, PgConnectionInfo? target, PgBinaries binaries, IReporter reporter, CancellationToken cancellationToken)
    {
        // Our own sessions carry this name, so the activity checks can tell them from the applications'. Both sides are
        // opened at once; the source's failure is the one reported when both fail, as when they were opened in turn.
        var own = source.WithApplicationName(ConnectedApplications.CheckApplicationName);
        var opening = target is null ? null : OpenAsync(target.WithApplicationName(ConnectedApplications.CheckApplicationName), "target", cancellationToken);
        NpgsqlConnection? sourceConn = null;
        NpgsqlConnection? targetConn = null;
        using var readAheadCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<IReadOnlyList<RelationSize>?>? sizes = null;
        try
        {
            ServerInfo sourceServer;
            (sourceConn, sourceServer) = await OpenAsync(own, "source", cancellationToken);
            // The tables' sizes are the slowest read of the checks (each table's files, at thousands of tables a
            // large part of the whole): read in a session of their own while the other checks run.
            if (_checks.Any(SourceSizes.NeededBy))
            {
                sizes = SourceSizes.ReadAheadAsync(own, readAheadCancel.Token);
            }

            ServerInfo? targetServer = null;
            if (opening is not null)
            {
                (targetConn, targetServer) = await opening;
            }

            var context = new PreflightContext
            {
                SourceInfo = source,
                Source = sourceConn,
                SourceServer = sourceServer,
                TargetInfo = target,
                Target = targetConn,
                TargetServer = targetServer,
                Binaries = binaries,
                Reporter = reporter,
                OwnSessions = OwnSessions,
                Roles = Roles,
                RoleRenames = RoleRenames,
                TargetDatabaseToCreate = TargetDatabaseToCreate,
                PrivilegedAttributes = PrivilegedAttributes,
                SizesAhead = sizes,
                TargetSessions = TargetSessions,
            };
            return await RunChecksAsync(context, cancellationToken);
        }
        finally
        {
            // Nothing is left running or open: the read ahead (if no check waited for it), the other side's opening.
            await readAheadCancel.CancelAsync();
            await Quietly(sizes);
            if (opening is not null && targetConn is null && await Quietly(opening) is var (opened, _) && opened is not null)
            {
                await opened.DisposeAsync();
            }

            if (targetConn is not null)
            {
                await targetConn.DisposeAsync();
            }

            if (sourceConn is not null)
            {
                await sourceConn.DisposeAsync();
            }
        }
    }

    private static async Task<(NpgsqlConnection Connection, ServerInfo Server)> OpenAsync(PgConnectionInfo info, string role, CancellationToken cancellationToken)
    {
        var conn = await Db.OpenAsync(info, role, cancellationToken);
        try
        {
            await LimitLockWaitsAsync(conn, cancellationToken);
            return (conn, await DescribeAsync(conn, role, cancellationToken));
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>What <paramref name="task"/> returns, or the default when it failed or was cancelled (its failure was reported elsewhere, or does not matter).</summary>
    private static async Task<T?> Quietly<T>(Task<T>? task)
    {
        if (task is null)
        {
            return default;
        }

        try
        {
            return await task;
        }
        catch (Exception)
        {
            return default;
        }
    }

    /// <summary>Sessions of the caller's own migration (the one holding the migration lock on the target), which the target checks ignore.</summary>
    public IReadOnlyCollection<int> OwnSessions { get; init; } = [];

    /// <summary>The sessions the run to come opens on the target at once, which its free connection slots are counted for (a check's own one, when no run is known).</summary>
    public Targets.SessionCount TargetSessions { get; init; } = Targets.SessionCount.PerJob(1);

    /// <summary>The estimate's bounds and budget; null (--no-estimate, or a caller that wants none): no estimate.</summary>
    public EstimateOptions? EstimateWith { get; init; }

    /// <summary>An estimate measured before these checks ran (migrate's, in a runner of its own): not measured again, the downtime check gives it.</summary>
    public Estimate? KnownEstimate { get; init; }

    /// <summary>--roles: the roles will be created on the target, and owners and privileges kept.</summary>
    public bool Roles { get; init; }

    /// <summary>The target database still to create, when the target connection names another of its server's.</summary>
    public string? TargetDatabaseToCreate { get; init; }

    /// <summary>With <see cref="Roles"/>: --map-role's renames, SOURCE to TARGET.</summary>
    public IReadOnlyDictionary<string, string> RoleRenames { get; init; } = new Dictionary<string, string>();

    /// <summary>With <see cref="Roles"/>: --roles-with-privileged-attributes.</summary>
    public bool PrivilegedAttributes { get; init; }

    /// <summary>
    /// Size functions wait for a lock on each table: behind a session holding an exclusive lock a check would
    /// hang without a word. With a lock timeout it fails instead, and becomes a warning row naming the wait.
    /// </summary>
    internal static Task LimitLockWaitsAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ExecuteAsync(conn, "SET lock_timeout = '3s'", cancellationToken);

    /// <summary>Runs the checks against already open connections.</summary>
    public async Task<PreflightReport> RunChecksAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        // The checks that need the tables' sizes wait for their read ahead (the slowest read, at 5,000 tables 0.4 s of
        // the checks' 0.7 s): they run last, so the others run meanwhile. The report lists every check in its own order.
        var order = Enumerable.Range(0, _checks.Count)
            .OrderBy(i => context.SizesAhead is not null && SourceSizes.NeededBy(_checks[i]) ? 1 : 0)
            .ToList();
        // The estimate first: the downtime check then gives its prediction instead of sampling the source itself.
        var (estimate, failed) = KnownEstimate is { } known ? (known, []) : await EstimateAsync(context, cancellationToken);
        context.Estimate = estimate;
        var results = new IReadOnlyList<CheckResult>[_checks.Count];
        for (var done = 0; done < order.Count; done++)
        {
            var check = _checks[order[done]];
            context.Reporter.Progress(new ProgressUpdate("checks", done, _checks.Count, "checks", check.Name));
            results[order[done]] = await RunOneAsync(check, context, cancellationToken);
        }

        if (_checks.Count > 0)
        {
            context.Reporter.Progress(new ProgressUpdate("checks", _checks.Count, _checks.Count, "checks", Finished: true));
        }

        return new PreflightReport([.. results.SelectMany(r => r), .. failed])
        {
            Estimate = estimate,
            Readability = context.Kept<SourceReadability>(nameof(SourceReadability)),
            Applications = context.Kept<IReadOnlyList<ConnectedApplication>>(nameof(ConnectedApplications)),
            SourceRole = context.SourceServer.User,
        };
    }

    /// <summary>
    /// The estimate (<see cref="EstimateWith"/>), measured before the checks on their sessions; a database error ends it
    /// with a warning row instead of the run.
    /// </summary>
    private async Task<(Estimate? Estimate, IReadOnlyList<CheckResult> Failed)> EstimateAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        if (EstimateWith is not { } options)
        {
            return (null, []);
        }

        context.Reporter.Progress(new ProgressUpdate("estimate", 0, 1, "measures", "estimate"));
        try
        {
            var measures = await EstimateMeasurer.MeasureAsync(context, options, cancellationToken);
            return (Estimate.Predict(measures, options), []);
        }
        catch (PostgresException e)
        {
            context.Reporter.Debug($"estimate failed: {e.SqlState} {e.MessageText}");
            return (null, [CheckResult.Warn("estimate", $"Could not measure the estimate ({e.SqlState}: {e.MessageText}).",
                "Run the check as a role that can read every table and the statistics, or pass --no-estimate.")]);
        }
        finally
        {
            context.Reporter.Progress(new ProgressUpdate("estimate", 1, 1, "measures", Finished: true));
        }
    }

    /// <summary>Runs one check; a database error becomes a warning row instead of ending the run.</summary>
    public static async Task<IReadOnlyList<CheckResult>> RunOneAsync(IPreflightCheck check, PreflightContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await check.RunAsync(context, cancellationToken);
        }
        catch (PostgresException e)
        {
            context.Reporter.Debug($"check {check.Name} failed: {e.SqlState} {e.MessageText}");
            // A failed statement may leave the connection's transaction aborted; checks run outside of one.
            var why = e.SqlState == PostgresErrorCodes.InsufficientPrivilege ? "permission denied" : e.SqlState;
            return
            [
                CheckResult.Warn(check.Name, $"Could not run this check ({why}: {e.MessageText}).",
                    "Run the check as a role that can read this information (pg_read_all_stats, pg_monitor, or the database owner), or check it by hand."),
            ];
        }
    }

    private static readonly string DescribeSql = CatalogSql.Load("Preflight/ServerDescription.sql");

    private static async Task<ServerInfo> DescribeAsync(NpgsqlConnection conn, string role, CancellationToken cancellationToken)
    {
        var version = await ServerVersion.ReadAsync(conn, cancellationToken);
        return await Db.SingleAsync(conn, DescribeSql, r => new ServerInfo(
            role,
            version.Number,
            version.Text,
            r.GetString(0),
            r.GetString(1),
            r.GetBoolean(2),
            r.GetBoolean(3),
            r.NullableString(4),
            r.GetInt32(5)), cancellationToken);
    }
}

using System.CommandLine;
using PgRelocate.Cli.Rendering;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Targets;
using PgRelocate.Migration.Reports;
using PgRelocate.Tools;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate migrate</c>: the whole migration in one command, journaled so that <c>--resume ID</c> picks up
/// after a crash, <c>--detach</c> runs it in the background, and <c>cancel</c> stops it cleanly.
/// </summary>
internal static class MigrateCommand
{
    public const string SourceVariable = "PGRELOCATE_SOURCE";
    public const string TargetVariable = "PGRELOCATE_TARGET";

    private static readonly Option<string?> Source = SourceOption.OrVariable;
    private static readonly Option<string?> Target = TargetOption.OrVariable;
    private static readonly Option<string?> Confirm = ConfirmOption.Option;
    private static readonly Option<string?> Via = new("--via") { Description = "Where to stage the archive; default: a file in the migration's folder." };
    private static readonly Option<int> Jobs = JobsOption.Migrate;
    private static readonly Option<bool> ReadOnlySource = new("--read-only-source") { Description = "Make the source read-only and end its sessions for the migration (lifted on failure or cancel)." };
    private static readonly Option<bool> KeepReadOnly = new("--keep-read-only") { Description = "With --read-only-source: leave the source read-only after a successful migration." };
    private static readonly Option<bool> ApplySettings = new("--apply-settings") { Description = "Apply the source's behavioural settings to the target database." };
    private static readonly Option<bool> KeepArchive = new("--keep-archive") { Description = "Keep the archive (and its manifest) after the migration." };
    private static readonly Option<string[]> Allow = new("--allow") { Description = "Go on despite this preflight check's blockers (repeatable, by check name).", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<string?> Report = new("--report") { Description = "Write a report: FILE.html (self-contained page), FILE.md or FILE.json." };
    private static readonly Option<bool> Detach = new("--detach") { Description = "Run in the background, independent of this terminal; watch with 'pgrelocate status ID'." };
    private static readonly Option<string?> Resume = new("--resume") { Description = "Resume migration ID: finished steps are skipped, an interrupted one is redone." };
    private static readonly Option<bool> Direct = new("--direct") { Description = "Copy straight from the source to the target over parallel COPY streams, instead of dump, stage and restore." };
    private static readonly Option<bool> CreateBucket = StagingCliOptions.CreateBucket;
    private static readonly Option<bool> Online = new("--online") { Description = "Keep the source live: copy a replication slot's snapshot, stream its changes into the target, switch in seconds with 'pgrelocate cutover ID'." };
    private static readonly Option<string> Cutover = new("--cutover") { Description = "With --online: manual (wait for 'pgrelocate cutover ID') or auto (switch once caught up within --max-lag).", DefaultValueFactory = _ => "manual" };
    private static readonly Option<string> MaxLag = new("--max-lag") { Description = "With --online --cutover auto: the lag under which the switch starts (5s, 500ms).", DefaultValueFactory = _ => "5s" };
    private static readonly Option<bool> Fallback = new("--fallback") { Description = "With --online: a way back. At the switch, capture the target's changes (triggers and a queue in the tool's schema there) and apply them to the old source, kept read-only, until 'pgrelocate rollback ID' switches back or 'pgrelocate finish ID' ends it." };
    private static readonly Option<string?> MaxFallbackQueue = new("--max-fallback-queue") { Description = "With --fallback: end the way back (removing it from both sides; the target keeps working) once its queue on the target (by a replication slot: the WAL the slot holds there) takes more than this (1GB, 500MB)." };
    private static readonly Option<bool> ReplicaIdentityFull = new("--replica-identity-full") { Description = "With --online: set REPLICA IDENTITY FULL on tables without a primary key for the migration (undone at the end)." };
    private static readonly Option<string> OnSchemaChange = new("--on-schema-change") { Description = "With --online: carry (create the source's new tables and partitions on the target while following, copied at their place in the source's order) or stop (stop the follow at the first schema change).", DefaultValueFactory = _ => "carry" };
    private static readonly Option<string?> MaxRetainedWal = new("--max-retained-wal") { Description = "With --online: stop the follow and drop its replication slot once the slot holds more WAL than this on the source (20GB, 500MB; kB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB of 1024)." };
    private static readonly Option<bool> NotConsistent = new("--not-consistent") { Description = "With --resume of a --direct migration: keep what the interrupted copy committed although the source was not kept read-only since (the verify step compares every row)." };
    private static readonly Option<string?> Databases = new("--databases") { Description = "Move these databases of the source server (a,b,c) into databases of the same names on the target server; --source and --target then name the servers (any database on each)." };
    private static readonly Option<bool> AllDatabases = new("--all-databases") { Description = "Move every database the source's login role may connect to, but templates, the providers' own (rdsadmin, azure_maintenance, azure_sys, cloudsqladmin) and postgres when it holds no user object." };
    private static readonly Option<bool> ConfirmAll = new("--confirm-all") { Description = "With --databases or --all-databases: replace what the target's existing databases of those names hold." };
    private static readonly Option<bool> ShowSecrets = new("--show-secrets") { Description = "Print the target's DATABASE_URL with its password." };

    public static Command Create()
    {
        var command = new Command("migrate", "Run the whole migration: check, read-only source, dump, restore, settings, verify, cutover summary, cleanup.")
        {
            Source, Target, Confirm, Via, Jobs, CompressOption.Option, ReadOnlySource, KeepReadOnly, ApplySettings, KeepArchive, Allow, Report, Detach, Resume, ShowSecrets, CreateBucket, Direct, Online, Cutover, MaxLag, ReplicaIdentityFull, MaxRetainedWal, Fallback, MaxFallbackQueue, OnSchemaChange, NotConsistent, RoleOptions.Roles, RoleOptions.MapRole, RoleOptions.PrivilegedAttributes, Databases, AllDatabases, ConfirmAll, WorkDirOption.Option, LockTimeoutOption.Option, EstimateOption.None, EstimateOption.Seconds,
            PgBouncerCliOptions.Admin, PgBouncerCliOptions.Ini, PgBouncerCliOptions.Database, PgBouncerCliOptions.MaxPause,
        };
        StagingCliOptions.AddTo(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var parse = ctx.Parse;
        var workDir = WorkDirOption.Writable(parse);
        var source = ctx.Connection(Source, SourceVariable) ?? throw new UsageException($"--source is required (or set {SourceVariable}).");
        var target = ctx.Connection(Target, TargetVariable) ?? throw new UsageException($"--target is required (or set {TargetVariable}).");
        var report = parse.GetValue(Report);
        if (report is not null)
        {
            MigrationReport.CheckPath(report);
        }

        if (parse.GetValue(Via) is { } via && !PgRelocate.Staging.StagingLocation.Parse(via).IsRemote)
        {
            OutputPaths.EnsureWritable(via, "--via");
        }

        MigrationJournal journal;
        MigrationOptions options;
        if (parse.GetValue(Resume) is { } id)
        {
            journal = MigrationJournal.Load(workDir, id);
            if (InstanceJournal.ParentOf(journal) is { } parent)
            {
                throw new UsageException($"Migration {id} moves one database of instance migration {parent}: resume that one with 'pgrelocate migrate --resume {parent}'.");
            }

            // A resumed migration runs with the options it was started with (its journal keeps them).
            var given = ctx.Parse.CommandResult.Command.Options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name);
            MigrationOptionsRules.CheckResume(journal, given, source, target);
            options = MigrationPlan.FromJournal(journal, source, target, parse.GetValue(ShowSecrets), PgBouncerCliOptions.GivenAdmin(ctx)) with { NotConsistent = parse.GetValue(NotConsistent) };
        }
        else
        {
            var (roles, renames, privileged) = RoleOptions.Get(parse);
            var given = new MigrationOptions
            {
                Source = source,
                Into = new TargetOptions
                {
                    Connection = target,
                    Confirm = parse.GetValue(Confirm) ?? "",
                    LockTimeout = LockTimeoutOption.Get(parse),
                    Jobs = parse.GetValue(Jobs),
                },
                Via = parse.GetValue(Via),
                Staging = StagingCliOptions.Read(parse),
                CreateBucket = parse.GetValue(CreateBucket),
                Direct = parse.GetValue(Direct),
                Compression = CompressOption.Get(parse),
                ReadOnlySource = parse.GetValue(ReadOnlySource),
                KeepReadOnly = parse.GetValue(KeepReadOnly),
                Online = parse.GetValue(Online),
                AutoCutover = CutoverOf(parse) == "auto",
                MaxLag = ParseDuration(parse.GetValue(MaxLag) ?? "5s"),
                ReplicaIdentityFull = parse.GetValue(ReplicaIdentityFull),
                MaxRetainedWal = MaxRetainedWalOf(parse),
                Fallback = parse.GetValue(Fallback),
                MaxFallbackQueue = parse.GetValue(MaxFallbackQueue) is { } queue ? Units.ParseBytes(queue) ?? -1 : null,
                CarrySchemaChanges = parse.GetValue(OnSchemaChange) is { } onChange and ("carry" or "stop") ? onChange == "carry" : throw new UsageException($"--on-schema-change must be carry or stop, not '{parse.GetValue(OnSchemaChange)}'."),
                ApplySettings = parse.GetValue(ApplySettings),
                KeepArchive = parse.GetValue(KeepArchive),
                ShowSecrets = parse.GetValue(ShowSecrets),
                NotConsistent = parse.GetValue(NotConsistent),
                Allow = (parse.GetValue(Allow) ?? []).ToHashSet(StringComparer.Ordinal),
                Roles = roles,
                RoleRenames = renames,
                PrivilegedAttributes = privileged,
                EstimateBudget = EstimateOption.Budget(parse),
                PgBouncer = PgBouncerCliOptions.Get(ctx, source),
            };
            if (given.PgBouncer is not null && (parse.GetValue(Databases) is not null || parse.GetValue(AllDatabases)))
            {
                throw new UsageException("--pgbouncer repoints one database's entry: migrate one database with it, or leave it out.");
            }

            if (parse.GetValue(Databases) is not null || parse.GetValue(AllDatabases) || parse.GetValue(ConfirmAll))
            {
                if (given.Fallback)
                {
                    throw new UsageException("--fallback gives one database a way back; an instance migration (--databases, --all-databases) has none yet: leave out --fallback, or move the databases one by one.");
                }

                var named = parse.GetValue(Databases)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                journal = await PgRelocate.Online.OnlinePlan.CreateInstanceJournalAsync(workDir, given, named, parse.GetValue(AllDatabases), parse.GetValue(ConfirmAll), report, cancellationToken);
                options = MigrationPlan.FromJournal(journal, source, target, given.ShowSecrets) with { NotConsistent = given.NotConsistent };
            }
            else
            {
                options = await given.ValidateAsync(cancellationToken);
                if (options.PgBouncer is { } pgbouncer)
                {
                    // Before the journal: a refusal changes nothing anywhere.
                    ctx.Reporter.Info(await PgRelocate.Poolers.PgBouncerChecks.RunAsync(pgbouncer, options.Source, options.Into.Connection, ctx.Binaries, cancellationToken));
                }

                journal = PgRelocate.Online.OnlinePlan.CreateJournal(workDir, options, report);
            }
        }

        if (InstanceJournal.IsParent(journal))
        {
            return await MigrateInstance.RunAsync(ctx, journal, options, report, parse.GetValue(Detach), cancellationToken);
        }

        return await RunOneAsync(ctx, journal, options, report, cancellationToken);
    }

    private static async Task<ExitCode> RunOneAsync(CommandContext ctx, MigrationJournal journal, MigrationOptions options, string? report, CancellationToken cancellationToken)
    {
        var (source, target) = (options.Source, options.Into.Connection);
        report = report is null ? journal.Options.GetValueOrDefault(MigrationJournal.ReportKey) : Path.GetFullPath(report);
        // Looked up beside the migration's start, not before it: it never fails the migration, which waits for it before it ends.
        var slots = PgRelocate.Online.OrphanedSlots.WarnAsync(source, ctx.Reporter, journal.Id, cancellationToken);
        try
        {
            return await RunStepsAsync(ctx, journal, options, report, source, target, cancellationToken);
        }
        finally
        {
            await slots;
        }
    }

    private static async Task<ExitCode> RunStepsAsync(CommandContext ctx, MigrationJournal journal, MigrationOptions options, string? report, PgConnectionInfo source, PgConnectionInfo target, CancellationToken cancellationToken)
    {
        var parse = ctx.Parse;
        var workDir = WorkDirOption.Get(parse);
        // Said first, for the case where this machine dies: an online migration's slot would keep the source's WAL without limit.
        var cleanup = options.Online ? CleanupLine(journal.Id, source) : null;

        if (parse.GetValue(Detach))
        {
            var detached = await StartDetachedAsync(ctx, journal, workDir, source, target, cancellationToken);
            if (cleanup is not null && !ctx.Json)
            {
                ctx.Out.WriteLine(cleanup);
            }

            return detached;
        }

        ctx.Reporter.Info($"Migration {journal.Id}: {source.Display} → {target.Display} (journal in {journal.Folder}).");
        if (cleanup is not null)
        {
            ctx.Reporter.Info(cleanup);
        }

        ctx.Watch(options.Into);
        Interruption.Add("id", journal.Id);
        Interruption.Add("journal", journal.Folder);
        ExitCode code;
        try
        {
            code = await PgRelocate.Online.OnlinePlan.RunAsync(options, journal, ctx.Binaries, ctx.Reporter, cancellationToken);
        }
        catch (MigrationLockedException) when (parse.GetValue(Resume) is null)
        {
            // Refused before it started: leave no journal of a migration that never ran.
            Directory.Delete(journal.Folder, recursive: true);
            throw;
        }

        ctx.Reporter.Stop();
        if (report is not null)
        {
            MigrationReport.Write(journal, report);
        }

        Render(ctx, journal, options, report, interrupted: code == ExitCode.Interrupted);
        return code;
    }

    /// <summary>Said before an online migration starts, for the case where its machine dies: its slot would keep the source's WAL without limit.</summary>
    internal static string CleanupLine(string id, PgConnectionInfo source) =>
        $"Should this process or its machine die, remove what migration {id} leaves on the source with: pgrelocate cancel {id} --source {PastedCommand.Connection(source)}";

    /// <summary>--max-retained-wal in bytes, or null when not given (see <see cref="MigrationOptionsRules.Validate"/> for when it may be).</summary>
    private static long? MaxRetainedWalOf(ParseResult parse) =>
        parse.GetValue(MaxRetainedWal) is not { } text ? null
        : Units.ParseBytes(text) is { } bytes and > 0 ? bytes
        // Without --online the rule says more than the size would.
        : parse.GetValue(Online) ? throw new UsageException($"--max-retained-wal '{text}' is not a size: write it like 20GB, 500MB or 1.5TB.")
        : -1;

    private static string CutoverOf(ParseResult parse) =>
        parse.GetValue(Cutover) is { } mode and ("manual" or "auto") ? mode : throw new UsageException($"--cutover must be manual or auto, not '{parse.GetValue(Cutover)}'.");

    /// <summary>A duration as "5s", "500ms", "2m", "1h" or a number of seconds; <paramref name="option"/> names it in the refusal.</summary>
    internal static TimeSpan ParseDuration(string text, string option = "--max-lag")
    {
        var t = text.Trim();
        var (number, unit) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001)
            : t.EndsWith('s') ? (t[..^1], 1.0)
            : t.EndsWith('m') ? (t[..^1], 60.0)
            : t.EndsWith('h') ? (t[..^1], 3600.0)
            : (t, 1.0);
        return double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) && value > 0
            ? TimeSpan.FromSeconds(value * unit)
            : throw new UsageException($"{option} '{text}' is not a duration: write 5s, 500ms, 2m or 1h.");
    }

    private static void Render(CommandContext ctx, MigrationJournal journal, MigrationOptions options, string? report, bool interrupted)
    {
        if (ctx.Json && interrupted)
        {
            // The interrupted object says it, with the id to resume and what the target holds (Interruption).
            return;
        }

        if (ctx.Json)
        {
            ctx.Out.Profile.Width = 4096;
            Console.Out.WriteLine(MigrationReport.Json(journal));
            return;
        }

        InfoCommand.RenderSteps(ctx, journal);
        if (journal.Status == MigrationStatus.Completed)
        {
            ctx.Out.WriteLine();
            ctx.Out.WriteLine($"DATABASE_URL={options.Into.Connection.ToUrl(options.ShowSecrets)}");
            foreach (var table in journal.Step("cutover summary").Tables)
            {
                ctx.Out.WriteLine($"{table.Title}:{(table.Rows.Count == 0 ? " " + table.Note : "")}");
                foreach (var row in table.Rows)
                {
                    ctx.Out.WriteLine("  - " + string.Join(", ", row));
                }
            }
        }
        else
        {
            ctx.Out.WriteLine($"Migration {journal.Id} {journal.Status.ToString().ToLowerInvariant()}: {journal.Error}");
            if (journal.ErrorDetail is { } detail)
            {
                // The whole exception, kept in the journal too: shown with -v, or asked for when it is a bug.
                if (ctx.Verbose)
                {
                    Console.Error.WriteLine(detail);
                }
                else if (journal.ExitCode == (int)ExitCode.Bug)
                {
                    ctx.Out.WriteLine($"Its details are in the journal: 'pgrelocate info {journal.Id} -v' shows them.");
                }
            }

            if (NextStep.For(journal) is { } next)
            {
                ctx.Out.WriteLine(next);
            }
        }

        if (report is not null)
        {
            ctx.Out.WriteLine($"Report: {report}");
        }
    }

    /// <summary>
    /// Starts this same program in a session of its own, resuming the journal just written, with the connections in
    /// its environment (never on its command line) and its output in the migration's folder.
    /// </summary>
    internal static async Task<ExitCode> StartDetachedAsync(CommandContext ctx, MigrationJournal journal, string workDir, PgConnectionInfo source, PgConnectionInfo target, CancellationToken cancellationToken)
    {
        var log = Path.Combine(journal.Folder, "output.log");
        var pid = await DetachedStart.StartAsync(
            ["migrate", "--resume", journal.Id, "--workdir", workDir, .. (ctx.Parse.GetValue(NotConsistent) ? new[] { "--not-consistent" } : [])],
            new Dictionary<string, string> { [SourceVariable] = source.ToUrl(showPassword: true), [TargetVariable] = target.ToUrl(showPassword: true) },
            log,
            cancellationToken);
        if (ctx.Json)
        {
            ctx.WriteJson(new DetachedJson(journal.Id, journal.Folder, pid), c => c.DetachedJson);
        }
        else
        {
            ctx.Out.WriteLine($"Migration {journal.Id} runs in the background (output in {log}).");
            ctx.Out.WriteLine($"Watch it with 'pgrelocate status {journal.Id}', stop it with 'pgrelocate cancel {journal.Id}'.");
        }

        return ExitCode.Success;
    }
}

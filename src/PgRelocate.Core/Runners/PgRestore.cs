using System.Text.RegularExpressions;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Runners;

/// <summary>The sections of an archive a pg_restore run restores.</summary>
[Flags]
internal enum ArchiveSections
{
    PreData = 1,
    Data = 2,
    PostData = 4,
    All = PreData | Data | PostData,
}

/// <summary>
/// One pg_restore run of a <see cref="PgRestore"/>: what to restore and from where. The runner turns it into
/// pg_restore's arguments; no caller names a flag.
/// </summary>
/// <param name="Label">Names the run in the log and in messages ("pre-data", "lane 2"); empty for a restore in one run.</param>
internal sealed record PgRestoreCall(string Label)
{
    /// <summary>The archive file; null when it comes on <see cref="Stdin"/>.</summary>
    public string? Archive { get; init; }

    /// <summary>The archive, read from standard input (pg_restore then reads it front to back, serially).</summary>
    public Stream? Stdin { get; init; }

    /// <summary>The sections to restore (all by default).</summary>
    public ArchiveSections Sections { get; init; } = ArchiveSections.All;

    /// <summary>A file of table-of-contents lines (<see cref="Archives.ArchiveEntry.ListLine"/>): only those entries, within <see cref="Sections"/>; null: every entry.</summary>
    public string? EntryList { get; init; }

    /// <summary>pg_restore's own parallel jobs (a file only, not <see cref="Stdin"/>); 1: serially.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>Each step pg_restore's verbose output announces (see <see cref="PgRestoreStep"/>).</summary>
    public Action<PgRestoreStep>? OnStep { get; init; }

    /// <summary>Session settings for this run only, in PGOPTIONS syntax ("-c name=value").</summary>
    public string? Settings { get; init; }
}

/// <summary>What pg_restore's verbose output announces it does next.</summary>
internal enum PgRestoreStepKind
{
    /// <summary>"creating TABLE public.items": a pre-data or post-data statement.</summary>
    Creating,

    /// <summary>"processing data for table "public.items"": a table's rows.</summary>
    ProcessingData,

    /// <summary>"processing item 12 ...", "processing BLOBS": any other item.</summary>
    Processing,

    /// <summary>"executing SEQUENCE SET ...".</summary>
    Executing,

    /// <summary>"restoring large object ...".</summary>
    Restoring,

    /// <summary>"finished item 12 ..." (parallel mode).</summary>
    Finished,
}

/// <summary>One step of pg_restore's verbose output: what it does, and to what (the rest of the line).</summary>
internal sealed partial record PgRestoreStep(PgRestoreStepKind Kind, string Subject)
{
    /// <summary>For <see cref="PgRestoreStepKind.ProcessingData"/> of a table, the table as pg_restore names it ("public.items"); else null.</summary>
    public string? Table =>
        Kind == PgRestoreStepKind.ProcessingData && Subject.StartsWith("table \"", StringComparison.Ordinal) && Subject.EndsWith('"') && Subject.Length >= 8
            ? Subject[7..^1]
            : null;

    /// <summary>The one reading of pg_restore's verbose lines; null for a line that announces no step.</summary>
    public static PgRestoreStep? Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var m = StepLine().Match(line);
        if (!m.Success)
        {
            return null;
        }

        var kind = m.Groups[1].Value switch
        {
            "creating" => PgRestoreStepKind.Creating,
            "processing data for" => PgRestoreStepKind.ProcessingData,
            "processing" => PgRestoreStepKind.Processing,
            "executing" => PgRestoreStepKind.Executing,
            "restoring" => PgRestoreStepKind.Restoring,
            _ => PgRestoreStepKind.Finished,
        };
        return new PgRestoreStep(kind, m.Groups[2].Value);
    }

    [GeneratedRegex(@"^pg_restore: (creating|processing data for|processing|executing|restoring|finished item \d+) (.*)$")]
    private static partial Regex StepLine();
}

/// <summary>How one pg_restore run ended: its exit code and its errors, classified.</summary>
internal sealed record PgRestoreOutcome(int ExitCode, IReadOnlyList<RestoreIssue> Issues)
{
    /// <summary>pg_restore succeeded, or failed only on errors known to be harmless.</summary>
    public bool Succeeded => ExitCode == 0 ? Issues.All(i => i.IsHarmless) : Issues.Count > 0 && Issues.All(i => i.IsHarmless);

    public IReadOnlyList<RestoreIssue> Warnings => [.. Issues.Where(i => i.IsHarmless)];

    public IReadOnlyList<RestoreIssue> Errors => [.. Issues.Where(i => !i.IsHarmless)];
}

/// <summary>
/// The one place pg_restore runs against a target. Every run restores the way a managed target allows (no
/// owners, no grants: everything ends up owned by the login role), gets the password through the environment,
/// its session settings through PGOPTIONS (see <see cref="SessionEnvironment"/>), writes its scrubbed,
/// labelled, timed lines to the shared log, and has its errors read by <see cref="RestoreErrorClassifier"/>.
/// One instance serves all the runs of one restore or copy, which share the log, the issues and the last lines.
/// Reading an archive without a target (<see cref="ReadThroughAsync"/>) also runs here.
/// </summary>
/// <param name="settings">Session settings for every run ("-c work_mem=256MB"), before each run's own.</param>
internal sealed class PgRestore(PgTool tool, PgConnectionInfo target, int targetMajor, Action<string> log, IReporter reporter, string? settings = null)
{
    private const int LastLineCount = 20;
    private readonly Lock _lock = new();
    private readonly List<RestoreIssue> _issues = [];
    private readonly Queue<string> _last = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public PgTool Tool => tool;

    /// <summary>Every run's errors so far, harmless or not.</summary>
    public IReadOnlyList<RestoreIssue> Issues
    {
        get
        {
            lock (_lock)
            {
                return [.. _issues];
            }
        }
    }

    /// <summary>The last lines of pg_restore's output over all runs, labelled: they explain a failure without errors.</summary>
    public IReadOnlyList<string> LastLines
    {
        get
        {
            lock (_lock)
            {
                return [.. _last];
            }
        }
    }

    public async Task<PgRestoreOutcome> RunAsync(PgRestoreCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        // A conninfo string, so that no database name is mistaken for one; the rest comes from the environment.
        var args = Arguments(call);
        var runSettings = settings is null ? call.Settings : call.Settings is null ? settings : settings + " " + call.Settings;
        var classifier = new RestoreErrorClassifier();
        var prefix = call.Label.Length > 0 ? $"[{call.Label}] " : "";
        var spec = new ChildProcessSpec(tool.Path, args) { Environment = SessionEnvironment(target, targetMajor, runSettings) };
        reporter.Debug("Running " + spec.CommandLine);
        Log($"# {prefix}{Stamp()} {spec.CommandLine}{(runSettings is null ? "" : " (with " + runSettings.Replace("-c ", "", StringComparison.Ordinal) + ")")}");
        spec = spec with
        {
            StderrLine = raw =>
            {
                var line = target.Scrub(raw);
                lock (_lock)
                {
                    log(prefix + line);
                    classifier.OnLine(line);
                    _last.Enqueue(prefix + line);
                    if (_last.Count > LastLineCount)
                    {
                        _last.Dequeue();
                    }
                }

                if (call.OnStep is { } onStep && PgRestoreStep.Parse(line) is { } step)
                {
                    onStep(step);
                }
            },
            Stdin = call.Stdin is null ? null : (s, ct) => PipeAsync(call.Stdin, s, ct),
        };

        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        var issues = classifier.Issues;
        lock (_lock)
        {
            _issues.AddRange(issues);
        }

        Log($"# {prefix}{Stamp()} exit code {exit}");
        return new PgRestoreOutcome(exit, issues);
    }

    /// <summary>
    /// pg_restore's arguments for <paramref name="call"/>: restored the way a managed target allows (no owners,
    /// no grants), verbose (its steps are read by <see cref="PgRestoreStep"/>), into the target's database (a
    /// conninfo string, so that no database name is mistaken for one; the rest comes from the environment),
    /// then the selection and the archive.
    /// </summary>
    private List<string> Arguments(PgRestoreCall call)
    {
        if (call.Archive is null == call.Stdin is null)
        {
            throw new ArgumentException("A pg_restore run reads an archive file or standard input, one of them.", nameof(call));
        }

        if (call.Jobs < 1 || (call.Jobs > 1 && call.Stdin is not null))
        {
            throw new ArgumentException($"pg_restore runs {call.Jobs} jobs on a file only.", nameof(call));
        }

        List<string> args = ["--no-owner", "--no-acl", "--verbose", "--no-password", "--dbname=dbname=" + ConnInfoQuote(target.Database)];
        if (call.Sections != ArchiveSections.All)
        {
            args.AddRange(new[] { (ArchiveSections.PreData, "pre-data"), (ArchiveSections.Data, "data"), (ArchiveSections.PostData, "post-data") }
                .Where(s => call.Sections.HasFlag(s.Item1))
                .Select(s => "--section=" + s.Item2));
        }

        if (call.EntryList is { } list)
        {
            args.Add("--use-list=" + list);
        }

        if (call.Jobs > 1)
        {
            args.Add($"--jobs={call.Jobs}");
        }

        if (call.Archive is { } archive)
        {
            args.Add(archive);
        }

        return args;
    }

    /// <summary>
    /// Runs <paramref name="call"/> as one step that must succeed (copy's schema sections).
    /// </summary>
    /// <returns>The harmless errors, as warnings.</returns>
    /// <exception cref="PgRelocateException">pg_restore reported an error that is not harmless, or failed without one.</exception>
    public async Task<IReadOnlyList<RestoreIssue>> RunStepAsync(PgRestoreCall call, string what, string logPath, CancellationToken cancellationToken)
    {
        var outcome = await RunAsync(call, cancellationToken);
        var errors = outcome.Errors;
        if (errors.Count > 0)
        {
            throw new PgRelocateException(
                $"Restoring the {what} into the target failed: {errors[0]}{(errors.Count > 1 ? $" (and {errors.Count - 1} more)" : "")}. The whole output is in {logPath}.");
        }

        if (!outcome.Succeeded)
        {
            throw new PgRelocateException($"pg_restore ({what}) failed with exit code {outcome.ExitCode}: {string.Join(" | ", LastLines.TakeLast(5))}. The whole output is in {logPath}.");
        }

        return outcome.Warnings;
    }

    /// <summary>Writes a line of our own into the shared log.</summary>
    public void Log(string line)
    {
        lock (_lock)
        {
            log(line);
        }
    }

    /// <summary>
    /// Reads a local archive through once without restoring it (<c>--file=/dev/null</c>): every data block is
    /// read and decompressed, so a truncated or damaged file is refused before anything is restored from it.
    /// </summary>
    /// <exception cref="UsageException">The archive is truncated or damaged.</exception>
    public static async Task ReadThroughAsync(PgTool tool, string path, string display, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tool);
        ArgumentNullException.ThrowIfNull(reporter);
        var errors = new List<string>();
        var spec = new ChildProcessSpec(tool.Path, ["--file=/dev/null", path])
        {
            StderrLine = line => { lock (errors) { errors.Add(line); } },
        };
        reporter.Progress(new ProgressUpdate("check archive", 0, null, "", display));
        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        reporter.Progress(new ProgressUpdate("check archive", 1, 1, "", Finished: true));
        if (exit != 0)
        {
            var reason = errors.FirstOrDefault(e => e.Contains("error:", StringComparison.Ordinal)) ?? errors.FirstOrDefault() ?? $"exit code {exit}";
            // A download's temporary copy is named as the user gave it (its URL), not by its path.
            reason = reason.Replace("pg_restore: error: ", "", StringComparison.Ordinal).Replace(path, display.Trim('\''), StringComparison.Ordinal);
            throw new UsageException($"{display} is truncated or damaged ({reason}): dump or download it again. Nothing was changed.");
        }
    }

    /// <summary>
    /// pg_restore's sessions do not wait for the WAL flush at each commit: an interrupted restore is redone
    /// from scratch anyway. Nor do they compile queries (JIT, PostgreSQL 11 and later): the big ones, foreign
    /// key checks, run once, and compiling cost more than it saved (the bench's: 2.0 s with it, 1.65 s
    /// without). (A larger maintenance_work_mem was tried and made the bench restore slower: its GIN build is
    /// faster with the default.) <paramref name="settings"/> are added for one run ("-c name=value ...").
    /// </summary>
    internal static IReadOnlyDictionary<string, string> SessionEnvironment(PgConnectionInfo target, int targetMajor, string? settings = null)
    {
        var env = new Dictionary<string, string>(target.ToLibpqEnvironment(), StringComparer.Ordinal);
        var options = "-c synchronous_commit=off" + (targetMajor >= 11 ? " -c jit=off" : "") + (settings is null ? "" : " " + settings);
        env["PGOPTIONS"] = env.TryGetValue("PGOPTIONS", out var given) ? given + " " + options : options;
        return env;
    }

    internal static string ConnInfoQuote(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    private string Stamp() => $"{DateTimeOffset.UtcNow:HH:mm:ss.f} +{_clock.Elapsed.TotalSeconds:0.0}s";

    /// <summary>Copies an archive stream into pg_restore's standard input until the end, or until pg_restore stops reading.</summary>
    private static async Task PipeAsync(Stream input, Stream stdin, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        int n;
        while ((n = await input.ReadAsync(buffer, cancellationToken)) > 0)
        {
            try
            {
                await stdin.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            }
            catch (IOException)
            {
                // pg_restore stopped reading: it has what it needs (a part of the archive), or it failed, and
                // its exit code and messages say so.
                return;
            }
        }
    }
}

using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Runners;

/// <summary>One pg_restore run of a <see cref="PgRestore"/>: what to select (after the common arguments), and where its input and output go.</summary>
/// <param name="Label">Names the run in the log and in messages ("pre-data", "lane 2"); empty for a restore in one run.</param>
/// <param name="Arguments">The selection (--section, --use-list, --jobs) and the archive's path, unless it comes on <see cref="Stdin"/>.</param>
public sealed record PgRestoreCall(string Label, IReadOnlyList<string> Arguments)
{
    /// <summary>The archive, read from standard input (pg_restore then reads it front to back, serially).</summary>
    public Stream? Stdin { get; init; }

    /// <summary>Each line pg_restore writes to standard error, password scrubbed.</summary>
    public Action<string>? OnLine { get; init; }

    /// <summary>Session settings for this run only, in PGOPTIONS syntax ("-c name=value").</summary>
    public string? Settings { get; init; }
}

/// <summary>How one pg_restore run ended: its exit code and its errors, classified.</summary>
public sealed record PgRestoreOutcome(int ExitCode, IReadOnlyList<RestoreIssue> Issues)
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
public sealed class PgRestore(PgTool tool, PgConnectionInfo target, int targetMajor, Action<string> log, IReporter reporter, string? settings = null)
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
        List<string> args = ["--no-owner", "--no-acl", "--verbose", "--no-password", "--dbname=dbname=" + ConnInfoQuote(target.Database)];
        args.AddRange(call.Arguments);
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

                call.OnLine?.Invoke(line);
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
            reason = reason.Replace("pg_restore: error: ", "", StringComparison.Ordinal);
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

using System.Security.Cryptography;
using System.Text.RegularExpressions;
using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Targets;
using PgRelocate.Tools;

namespace PgRelocate.Restore;

/// <summary>What to restore where, and how.</summary>
public sealed record RestoreOptions
{
    public required PgConnectionInfo Target { get; init; }

    public required ArchiveInput Input { get; init; }

    /// <summary>The target database's name, given by the user to allow replacing what it holds.</summary>
    public string? Confirm { get; init; }

    /// <summary>How long emptying the target (with <see cref="Confirm"/>) waits for another session's lock.</summary>
    public TimeSpan LockTimeout { get; init; } = TargetRequirements.DefaultLockTimeout;

    /// <summary>pg_restore jobs; more than one needs a local file.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>The archive's manifest, when there is one: size and SHA-256 are checked against it.</summary>
    public DumpManifest? Manifest { get; init; }

    /// <summary>Where pg_restore's whole output is kept.</summary>
    public required string LogPath { get; init; }

    /// <summary>Run ANALYZE afterwards, so the planner has statistics before applications connect.</summary>
    public bool Analyze { get; init; } = true;

    /// <summary>The archive's tables' sizes ("schema.name" → bytes), for spreading a parallel restore; else the manifest's, if any.</summary>
    public IReadOnlyDictionary<string, long>? TableBytes { get; init; }
}

/// <summary>
/// Restores a pg_dump custom archive into a target database the way a managed target allows: no roles, no
/// ownership, no grants (everything ends up owned by the target's login role). Every check that can fail
/// (the archive's header and checksum, the pg_restore version, the extensions the archive needs, the
/// target being empty or confirmed) runs before the target is touched.
/// </summary>
public sealed partial class RestoreRunner(PgBinaries binaries, IReporter reporter)
{
    public const string ProgressTask = "restore";

    /// <exception cref="UsageException">The archive is not an archive, does not match its manifest, or the target is not empty and not confirmed.</exception>
    /// <exception cref="PgRelocateException">The target is unreachable, lacks an extension, or no fitting pg_restore is installed.</exception>
    public async Task<RestoreResult> RunAsync(RestoreOptions options, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var target = options.Target;

        // 1. The archive, before anything touches the target.
        PreparedArchive archive = options.Input switch
        {
            LocalArchive local => await PrepareLocalAsync(local, options.Manifest, cancellationToken),
            StreamedArchive streamed => await PrepareStreamAsync(streamed, cancellationToken),
            GrowingArchive growing => await PrepareGrowingAsync(growing, options.Jobs, cancellationToken),
            _ => throw new ArgumentException("Unknown archive input.", nameof(options)),
        };

        try
        {
            // 2. The target: checked, then emptied when --confirm allows it.
            var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = options.Confirm, LockTimeout = options.LockTimeout, Extensions = archive.Extensions, Jobs = Math.Max(1, options.Jobs) }, cancellationToken);
            var pgRestore = binaries.PgRestoreFor(archive.Header.MinimumPgRestoreMajor, prepared.Server.Major);
            archive = archive with { PgRestore = pgRestore, TargetMajor = prepared.Server.Major };
            // pg_restore must connect as our session did, before the target is emptied.
            if ((await LibpqProbe.RunAsync(target, "target", pgRestore, cancellationToken)).SkippedBecause is { } why)
            {
                reporter.Warn(why + ".");
            }

            await prepared.EmptyAsync(reporter, cancellationToken);

            // 3. pg_restore.
            var result = await RunPgRestoreAsync(options, archive, started, cancellationToken);
            if (options.Input is GrowingArchive { Spool.Completion.IsCompletedSuccessfully: true } && options.Manifest is { } manifest)
            {
                // The download checks size and SHA-256 as it ends: the archive was whole before the last part ran.
                reporter.Info($"Archive checked: {Units.Bytes(manifest.ArchiveBytes)}, SHA-256 matches the manifest.");
            }

            // 4. Statistics, so the first queries after the cutover are not planned blind.
            if (result.Status != RestoreStatus.Failed && options.Analyze)
            {
                await TargetStatistics.AnalyzeAsync(target, options.Jobs, reporter, cancellationToken, result.Analyzed);
            }

            return result with { Duration = DateTimeOffset.UtcNow - started };
        }
        finally
        {
            if (archive.Stream is not null)
            {
                await archive.Stream.DisposeAsync();
            }
        }
    }

    private async Task<PreparedArchive> PrepareLocalAsync(LocalArchive local, DumpManifest? manifest, CancellationToken cancellationToken)
    {
        if (Directory.Exists(local.Path))
        {
            throw new UsageException($"'{local.Path}' is a folder: pass the archive file written by 'pgrelocate dump'.");
        }

        if (!File.Exists(local.Path))
        {
            throw new UsageException($"'{local.Path}' does not exist: pass the archive file written by 'pgrelocate dump'.");
        }

        var header = ArchiveHeader.Read(local.Path);
        var pgRestore = binaries.PgRestoreFor(header.MinimumPgRestoreMajor, 0);
        if (manifest is not null)
        {
            await CheckAgainstManifestAsync(local.Path, manifest, cancellationToken);
        }
        else
        {
            // No checksum to compare with: read the archive through once, so a truncated or damaged file is
            // refused now rather than half restored.
            await ReadThroughAsync(pgRestore, local.Path, cancellationToken);
        }

        var toc = await ListAsync(pgRestore, local.Path, null, cancellationToken);
        return new PreparedArchive(header, pgRestore, toc.Count(l => !l.StartsWith(';')), ExtensionsIn(toc), null, local.Path);
    }

    /// <summary>
    /// An archive still being written: its header and table of contents are read as soon as they are there.
    /// With one job it is restored as a stream that follows the file; with more, by a <see cref="FollowingRestore"/>.
    /// </summary>
    private async Task<PreparedArchive> PrepareGrowingAsync(GrowingArchive growing, int jobs, CancellationToken cancellationToken)
    {
        var head = new byte[ArchiveHeader.ProbeBytes];
        int read;
        await using (var reader = growing.Spool.OpenReader())
        {
            read = await reader.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
        }

        var header = ArchiveHeader.Parse(head.AsSpan(0, read), $"'{growing.Display}'");
        var pgRestore = binaries.PgRestoreFor(header.MinimumPgRestoreMajor, 0);
        List<string> lines;
        await using (var reader = growing.Spool.OpenReader())
        {
            lines = await ListAsync(pgRestore, null, reader, cancellationToken);
        }

        var toc = ArchiveToc.Parse(lines);
        return new PreparedArchive(header, pgRestore, toc.Count, ExtensionsIn(lines), jobs > 1 ? null : growing.Spool.OpenReader(), null)
        {
            Spool = jobs > 1 ? growing.Spool : null,
            Toc = toc,
        };
    }

    private async Task<PreparedArchive> PrepareStreamAsync(StreamedArchive streamed, CancellationToken cancellationToken)
    {
        var stream = await streamed.Open(cancellationToken);
        try
        {
            var head = new byte[ArchiveHeader.ProbeBytes];
            var read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
            var header = ArchiveHeader.Parse(head.AsSpan(0, read), $"'{streamed.Display}'");
            var pgRestore = binaries.PgRestoreFor(header.MinimumPgRestoreMajor, 0);
            // The bytes already read go first; the rest follows from the same download.
            var whole = new PrefixedStream(head.AsMemory(0, read), stream);
            return new PreparedArchive(header, pgRestore, null, [], whole, null);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    private async Task CheckAgainstManifestAsync(string path, DumpManifest manifest, CancellationToken cancellationToken)
    {
        var length = new FileInfo(path).Length;
        if (length != manifest.ArchiveBytes)
        {
            throw new UsageException(
                $"'{path}' is {length} bytes but its manifest says {manifest.ArchiveBytes}: the archive is {(length < manifest.ArchiveBytes ? "truncated" : "not the one the manifest describes")}. Dump or download it again. Nothing was changed.");
        }

        using var sha = SHA256.Create();
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        var hash = Convert.ToHexStringLower(await sha.ComputeHashAsync(file, cancellationToken));
        if (!string.Equals(hash, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"'{path}' does not match its manifest's SHA-256: the archive is damaged. Dump or download it again. Nothing was changed.");
        }

        reporter.Info($"Archive checked: {Units.Bytes(length)}, SHA-256 matches the manifest.");
    }

    private async Task ReadThroughAsync(PgTool pgRestore, string path, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var spec = new ChildProcessSpec(pgRestore.Path, ["--file=/dev/null", path])
        {
            StderrLine = line => { lock (errors) { errors.Add(line); } },
        };
        reporter.Progress(new ProgressUpdate("check archive", 0, null, "", path));
        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        reporter.Progress(new ProgressUpdate("check archive", 1, 1, "", Finished: true));
        if (exit != 0)
        {
            var reason = errors.FirstOrDefault(e => e.Contains("error:", StringComparison.Ordinal)) ?? errors.FirstOrDefault() ?? $"exit code {exit}";
            reason = reason.Replace("pg_restore: error: ", "", StringComparison.Ordinal);
            throw new UsageException($"'{path}' is truncated or damaged ({reason}): dump or download it again. Nothing was changed.");
        }
    }

    /// <summary>pg_restore --list of a file, or of a stream (read only as far as the table of contents).</summary>
    private static async Task<List<string>> ListAsync(PgTool pgRestore, string? path, Stream? stream, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        var errors = new List<string>();
        var spec = new ChildProcessSpec(pgRestore.Path, path is null ? ["--list"] : ["--list", path])
        {
            Stdin = stream is null ? null : (stdin, ct) => PipeAsync(stream, stdin, null, ct),
            StderrLine = line => { lock (errors) { errors.Add(line); } },
            Stdout = async (s, ct) =>
            {
                using var reader = new StreamReader(s, leaveOpen: true);
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    lines.Add(line);
                }
            },
        };
        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        if (exit != 0)
        {
            var reason = (errors.FirstOrDefault() ?? $"exit code {exit}").Replace("pg_restore: error: ", "", StringComparison.Ordinal);
            throw new UsageException($"'{path ?? "the archive"}' cannot be read as an archive ({reason}): dump or download it again.");
        }

        return lines;
    }

    /// <summary>Extension names from "123; 3079 16385 EXTENSION - hstore" lines of pg_restore --list.</summary>
    internal static IReadOnlyList<string> ExtensionsIn(IEnumerable<string> toc) =>
        toc.Select(l => ExtensionEntry().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Where(n => n != "plpgsql").Distinct(StringComparer.Ordinal).ToList();

    private async Task<RestoreResult> RunPgRestoreAsync(RestoreOptions options, PreparedArchive archive, DateTimeOffset started, CancellationToken cancellationToken)
    {
        var target = options.Target;
        var pgRestore = archive.PgRestore;
        var following = archive.Spool is not null;
        var jobs = archive.LocalPath is null && !following ? 1 : Math.Max(1, options.Jobs);
        if (archive.LocalPath is null && !following && options.Jobs > 1)
        {
            reporter.Warn("A streamed archive is restored with one job: parallel restore needs a local file.");
        }

        reporter.Info($"Restoring {options.Input.Display} into {target.Display} with pg_restore {pgRestore.Version}{(jobs > 1 ? $", {jobs} jobs" : "")}{(following ? ", while the archive is still arriving" : "")}.");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.LogPath))!);
        await using var log = new StreamWriter(options.LogPath, append: false);
        var progress = new RestoreProgress(reporter, archive.TocEntries, archive.Stream is null ? null : (options.Input as StreamedArchive)?.Length);
        var session = new PgRestoreSession(pgRestore, target, archive.TargetMajor, log, progress, reporter);
        int exit;
        IReadOnlyCollection<(string Schema, string Name)> analyzed = [];
        if (following)
        {
            var work = Interrupts.TempFolder("pgrelocate-restore-");
            try
            {
                var sizes = options.TableBytes ?? options.Manifest?.Tables.ToDictionary(t => t.Schema + "." + t.Name, t => t.EstimatedBytes, StringComparer.Ordinal);
                var parts = new FollowingRestore(archive.Spool!, archive.Toc!, jobs, sizes, work.FullName, session.RunPartAsync, options.Analyze ? AnalyzeOneAsync : null, IndexSettingsAsync);
                await parts.RunAsync(cancellationToken);
                analyzed = parts.Analyzed;
                exit = 0;
            }
            catch (RestorePartFailedException e)
            {
                await log.WriteLineAsync("# " + e.Message);
                exit = 1;
            }
            finally
            {
                work.Delete(recursive: true);
            }
        }
        else
        {
            List<string> args = jobs > 1 ? [$"--jobs={jobs}"] : [];
            if (archive.LocalPath is not null)
            {
                args.Add(archive.LocalPath);
            }

            exit = await session.RunAsync("", args, archive.Stream, null, null, cancellationToken);
        }

        progress.Finish();
        var issues = session.Issues;
        var warnings = issues.Where(i => i.IsHarmless).ToList();
        var errors = issues.Where(i => !i.IsHarmless).ToList();
        var status = errors.Count > 0 || (exit != 0 && issues.Count == 0)
            ? RestoreStatus.Failed
            : warnings.Count > 0 ? RestoreStatus.CompletedWithWarnings : RestoreStatus.Completed;
        await log.WriteLineAsync($"# pg_restore exit code {exit}; status {status}");
        return new RestoreResult(status, warnings, errors, Path.GetFullPath(options.LogPath), DateTimeOffset.UtcNow - started, session.LastLines) { Analyzed = analyzed };

        async Task AnalyzeOneAsync(string schema, string name, CancellationToken ct)
        {
            await using var conn = await Db.OpenAsync(target, "target", ct);
            await Db.ExecuteAsync(conn, $"ANALYZE {Db.Ident(schema)}.{Db.Ident(name)}", ct);
        }

        async Task<string?> IndexSettingsAsync(string sql, CancellationToken ct)
        {
            if (IndexBuilds.Parse(sql) is null)
            {
                return null;
            }

            await using var conn = await Db.OpenAsync(target, "target", ct);
            return await IndexBuilds.IsOverJsonbAsync(conn, sql, ct) ? "-c maintenance_work_mem=" + IndexBuilds.JsonbGinMemory : null;
        }
    }

    /// <summary>Copies an archive stream into pg_restore's standard input until the end, or until pg_restore stops reading.</summary>
    private static async Task PipeAsync(Stream input, Stream stdin, Action<long>? onBytes, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        long total = 0;
        int n;
        while ((n = await input.ReadAsync(buffer, cancellationToken)) > 0)
        {
            try
            {
                await stdin.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            }
            catch (IOException)
            {
                // pg_restore stopped reading: it has what it needs (a list, a part of the archive), or it
                // failed, and its exit code and messages say so.
                return;
            }

            total += n;
            onBytes?.Invoke(total);
        }
    }

    /// <summary>
    /// The pg_restore runs of one restore: their shared log (each run's lines labelled), their errors
    /// classified run by run, their progress, and the last lines for a failure message.
    /// </summary>
    private sealed class PgRestoreSession(PgTool pgRestore, PgConnectionInfo target, int targetMajor, StreamWriter log, RestoreProgress progress, IReporter reporter)
    {
        private readonly Lock _lock = new();
        private readonly List<RestoreIssue> _issues = [];
        private readonly Queue<string> _last = new();
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

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

        /// <summary>One part of a larger restore: it succeeded if pg_restore did, or failed only on harmless errors.</summary>
        public async Task<bool> RunPartAsync(string label, IReadOnlyList<string> extra, Stream? stdin, Action<string>? onLine, Func<Stream, CancellationToken, Task>? stdout, CancellationToken cancellationToken, string? settings = null)
        {
            var (exit, issues) = await RunCoreAsync(label, extra, stdin, onLine, stdout, cancellationToken, settings);
            return exit == 0 || (issues.Count > 0 && issues.All(i => i.IsHarmless));
        }

        public async Task<int> RunAsync(string label, IReadOnlyList<string> extra, Stream? stdin, Action<string>? onLine, Func<Stream, CancellationToken, Task>? stdout, CancellationToken cancellationToken) =>
            (await RunCoreAsync(label, extra, stdin, onLine, stdout, cancellationToken)).Exit;

        private async Task<(int Exit, IReadOnlyList<RestoreIssue> Issues)> RunCoreAsync(string label, IReadOnlyList<string> extra, Stream? stdin, Action<string>? onLine, Func<Stream, CancellationToken, Task>? stdout, CancellationToken cancellationToken, string? settings = null)
        {
            List<string> args = ["--no-owner", "--no-acl", "--verbose", "--no-password"];
            if (stdout is null)
            {
                // A conninfo string, so that no database name is mistaken for one; the rest comes from the environment.
                args.Add("--dbname=dbname=" + ConnInfoQuote(target.Database));
            }

            args.AddRange(extra);
            var classifier = new RestoreErrorClassifier();
            var prefix = label.Length > 0 ? $"[{label}] " : "";
            var spec = new ChildProcessSpec(pgRestore.Path, args) { Environment = RestoreSessionEnvironment(target, targetMajor, settings) };
            reporter.Debug("Running " + spec.CommandLine);
            lock (_lock)
            {
                log.WriteLine($"# {prefix}+{_clock.Elapsed.TotalSeconds:0.0}s {spec.CommandLine}{(settings is null ? "" : " (with " + settings.Replace("-c ", "", StringComparison.Ordinal) + ")")}");
            }

            spec = spec with
            {
                StderrLine = raw =>
                {
                    var line = target.Scrub(raw);
                    lock (_lock)
                    {
                        log.WriteLine(prefix + line);
                        classifier.OnLine(line);
                        _last.Enqueue(prefix + line);
                        if (_last.Count > 20)
                        {
                            _last.Dequeue();
                        }
                    }

                    onLine?.Invoke(line);
                    if (stdout is null)
                    {
                        progress.OnLine(line);
                    }
                },
                Stdin = stdin is null ? null : (s, ct) => PipeAsync(stdin, s, label.Length == 0 ? progress.OnBytes : null, ct),
                Stdout = stdout,
            };

            var exit = await ChildProcess.RunAsync(spec, cancellationToken);
            var issues = classifier.Issues;
            lock (_lock)
            {
                _issues.AddRange(issues);
                log.WriteLine($"# {prefix}+{_clock.Elapsed.TotalSeconds:0.0}s exit code {exit}");
            }

            return (exit, issues);
        }
    }

    /// <summary>
    /// pg_restore's sessions do not wait for the WAL flush at each commit: an interrupted restore is redone
    /// from scratch anyway. Nor do they compile queries (JIT, PostgreSQL 11 and later): the big ones, foreign
    /// key checks, run once, and compiling cost more than it saved (the bench's: 2.0 s with it, 1.65 s
    /// without). (A larger maintenance_work_mem was tried and made the bench restore slower: its GIN build is
    /// faster with the default.) <paramref name="settings"/> are added for one run ("-c name=value ...").
    /// </summary>
    internal static IReadOnlyDictionary<string, string> RestoreSessionEnvironment(PgConnectionInfo target, int targetMajor, string? settings = null)
    {
        var env = new Dictionary<string, string>(target.ToLibpqEnvironment(), StringComparer.Ordinal);
        var options = "-c synchronous_commit=off" + (targetMajor >= 11 ? " -c jit=off" : "") + (settings is null ? "" : " " + settings);
        env["PGOPTIONS"] = env.TryGetValue("PGOPTIONS", out var given) ? given + " " + options : options;
        return env;
    }

    internal static string ConnInfoQuote(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    [GeneratedRegex(@"^\d+; \d+ \d+ EXTENSION - (\S+)")]
    private static partial Regex ExtensionEntry();

    private sealed record PreparedArchive(ArchiveHeader Header, PgTool PgRestore, int? TocEntries, IReadOnlyList<string> Extensions, Stream? Stream, string? LocalPath)
    {
        /// <summary>The target server's major version, once it has been asked.</summary>
        public int TargetMajor { get; init; }

        /// <summary>An archive still being written, restored in parallel as it grows.</summary>
        public ArchiveSpool? Spool { get; init; }

        public IReadOnlyList<TocEntry>? Toc { get; init; }
    }

}

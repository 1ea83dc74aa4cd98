using System.Text.RegularExpressions;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Runners;

/// <summary>
/// The one place pg_dump runs: a custom-format archive of the source, the password through the environment
/// (never on the command line), its lines scrubbed, labelled and timed in the log, and a failure explained
/// from pg_dump's first error (with what to do when the login role may not read a table).
/// </summary>
/// <param name="log">Where pg_dump's lines go, scrubbed; null: only to the reporter's debug output.</param>
internal sealed partial class PgDump(PgTool tool, PgConnectionInfo source, IReporter reporter, Action<string>? log = null)
{
    public PgTool Tool => tool;

    /// <summary>
    /// Runs <c>pg_dump --format=custom --verbose --no-password</c> with <paramref name="arguments"/> after them.
    /// With <paramref name="stdout"/> the archive is read from pg_dump's output; else an argument names the file.
    /// </summary>
    /// <param name="what">Names the dump in messages ("the source's schema").</param>
    /// <exception cref="PgRelocateException">pg_dump failed; the message says why.</exception>
    public async Task RunAsync(IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? stdout, Action<string>? onLine, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        List<string> args = ["--format=custom", "--verbose", "--no-password", .. arguments];
        var errors = new List<string>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var spec = new ChildProcessSpec(tool.Path, args) { Environment = source.ToLibpqEnvironment(), Stdout = stdout };
        reporter.Debug("Running " + spec.CommandLine);
        log?.Invoke($"# [pg_dump] {DateTimeOffset.UtcNow:HH:mm:ss.f} {spec.CommandLine}");
        spec = spec with
        {
            StderrLine = raw =>
            {
                var line = source.Scrub(raw);
                log?.Invoke("[pg_dump] " + line);
                if (line.Contains("error:", StringComparison.Ordinal) || line.Contains("FATAL", StringComparison.Ordinal) || line.Contains("DETAIL:", StringComparison.Ordinal))
                {
                    lock (errors)
                    {
                        errors.Add(line);
                    }
                }

                onLine?.Invoke(line);
            },
        };

        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        log?.Invoke($"# [pg_dump] {DateTimeOffset.UtcNow:HH:mm:ss.f} +{clock.Elapsed.TotalSeconds:0.0}s exit code {exit}");
        if (exit != 0)
        {
            // A server out of connection slots for a moment (SQLSTATE 53300, which pg_dump prints only in words) is
            // worth trying again, as Errors/Transience judges a session's.
            throw new PgRelocateException(DescribeFailure(exit, errors, what)) { IsTransient = errors.Any(e => NoSlots().IsMatch(e)) };
        }
    }

    /// <summary>
    /// The schema only (the pre-data and post-data sections), without large objects, as of the exported
    /// <paramref name="snapshot"/>, into the file <paramref name="path"/>.
    /// </summary>
    /// <exception cref="PgRelocateException">pg_dump failed; the message says why.</exception>
    public Task DumpSchemaAsync(string snapshot, string path, string what, CancellationToken cancellationToken) =>
        RunAsync(["--section=pre-data", "--section=post-data", "-B", "--snapshot=" + snapshot, "--file=" + path], null, null, what, cancellationToken);

    private static string DescribeFailure(int exit, List<string> errors, string what)
    {
        var first = errors.FirstOrDefault(e => e.Contains("error:", StringComparison.Ordinal)) ?? errors.FirstOrDefault();
        if (first is null)
        {
            return $"pg_dump of {what} failed with exit code {exit} and no error message: run with -v for its output.";
        }

        var message = first[(first.IndexOf("error:", StringComparison.Ordinal) is var i and >= 0 ? i + 6 : 0)..].Trim();
        var denied = PermissionDenied().Match(message);
        var hint = denied.Success
            ? $" The login role cannot read {denied.Groups[1].Value}: dump as a role that can read every table (the database owner or the provider's admin user)."
            : "";
        return $"pg_dump of {what} failed: {message}.{hint}";
    }

    [GeneratedRegex(@"permission denied for (?:table|relation|schema|sequence|large object) (\S+)")]
    private static partial Regex PermissionDenied();

    /// <summary>The server's words for 53300: "too many connections for role ...", "sorry, too many clients already", "remaining connection slots are reserved ...".</summary>
    [GeneratedRegex(@"too many connections|too many clients|remaining connection slots are reserved")]
    private static partial Regex NoSlots();
}

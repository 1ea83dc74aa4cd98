using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Tools;

namespace PgRelocate.Copy;

/// <summary>
/// Runs pg_restore on part of the schema archive into the target the way 'restore' does: no owners, no grants,
/// errors read by <see cref="RestoreErrorClassifier"/> so that only the known harmless ones are let through.
/// </summary>
internal static class PgRestoreStep
{
    /// <returns>The harmless errors, as warnings.</returns>
    /// <exception cref="PgRelocateException">pg_restore reported an error that is not harmless.</exception>
    public static async Task<IReadOnlyList<RestoreIssue>> RunAsync(
        PgTool pgRestore, PgConnectionInfo target, int targetMajor, string archive, IReadOnlyList<string> selection, string maintenanceWorkMem, string what, CopyLog log, IReporter reporter, CancellationToken cancellationToken)
    {
        var args = new List<string>
        {
            "--no-owner", "--no-acl", "--verbose", "--no-password",
            "--dbname=dbname=" + RestoreRunner.ConnInfoQuote(target.Database),
        };
        args.AddRange(selection);
        args.Add(archive);
        // Index builds and foreign key checks of the post-data section run in these sessions too; a foreign
        // key's check is one big join, which spills to disk with the default work_mem.
        var env = RestoreRunner.RestoreSessionEnvironment(target, targetMajor, "-c work_mem=256MB -c maintenance_work_mem=" + maintenanceWorkMem);
        var spec = new ChildProcessSpec(pgRestore.Path, args) { Environment = env };
        reporter.Debug("Running " + spec.CommandLine);
        log.Write($"# {what}: {spec.CommandLine}");
        var classifier = new RestoreErrorClassifier();
        var last = new Queue<string>();
        spec = spec with
        {
            StderrLine = raw =>
            {
                var line = target.Scrub(raw);
                log.Write(line);
                lock (classifier)
                {
                    classifier.OnLine(line);
                    last.Enqueue(line);
                    if (last.Count > 5)
                    {
                        last.Dequeue();
                    }
                }
            },
        };

        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        var issues = classifier.Issues;
        var errors = issues.Where(i => !i.IsHarmless).ToList();
        if (errors.Count > 0)
        {
            throw new PgRelocateException(
                $"Restoring the {what} into the target failed: {errors[0]}{(errors.Count > 1 ? $" (and {errors.Count - 1} more)" : "")}. The whole output is in {log.Path}.");
        }

        if (exit != 0 && issues.Count == 0)
        {
            throw new PgRelocateException($"pg_restore ({what}) failed with exit code {exit}: {string.Join(" | ", last)}. The whole output is in {log.Path}.");
        }

        return issues.Where(i => i.IsHarmless).ToList();
    }
}

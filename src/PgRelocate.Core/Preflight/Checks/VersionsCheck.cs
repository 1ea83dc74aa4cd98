using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Server versions on both sides (a restore into an older major is not supported), and a pg_dump and a
/// pg_restore on this machine that fit: pg_dump at least the source's major, pg_restore at least that pg_dump's.
/// </summary>
internal sealed class VersionsCheck : IPreflightCheck
{
    public string Name => "versions";

    public Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var source = context.SourceServer;
        var rows = new List<CheckResult>();
        if (context.TargetServer is { } target)
        {
            var found = $"source PostgreSQL {source.MajorMinor}, target PostgreSQL {target.MajorMinor}.";
            rows.Add(target.Major < source.Major
                ? CheckResult.Block(Name, found,
                    $"Use a target running PostgreSQL {source.Major} or newer: pg_dump output of a newer server does not restore into an older one.")
                : CheckResult.Ok(Name, found));
        }
        else
        {
            rows.Add(CheckResult.Ok(Name, $"source PostgreSQL {source.MajorMinor}.", "Pass --target to compare with the target's version."));
        }

        rows.Add(Tools(context.Binaries, source.Major, context.TargetServer?.Major));
        return Task.FromResult<IReadOnlyList<CheckResult>>(rows);
    }

    private static CheckResult Tools(PgBinaries binaries, int sourceMajor, int? targetMajor)
    {
        const string name = "client tools";
        try
        {
            var dump = binaries.PgDumpFor(sourceMajor);
            var restore = binaries.PgRestoreFor(dump.Major, targetMajor ?? 0);
            var found = $"{dump.Name} {dump.Version} and {restore.Name} {restore.Version} fit a PostgreSQL {sourceMajor} source.";
            if (targetMajor is { } t && restore.Major < t)
            {
                // Works, but the server's own release notes assume the newer client: say so without blocking.
                return CheckResult.Ok(name, found, $"Optional: install postgresql-client-{t} to restore with the target's own version.") with
                {
                    Details = [dump.Path, restore.Path],
                };
            }

            return CheckResult.Ok(name, found) with { Details = [dump.Path, restore.Path] };
        }
        catch (PgRelocateException e)
        {
            return CheckResult.Block(name, e.Message, $"Install postgresql-client-{Math.Max(sourceMajor, targetMajor ?? 0)} or pass --pg-bin DIR holding a newer pg_dump and pg_restore.");
        }
    }
}

namespace PgRelocate.Preflight;

/// <summary>
/// One preflight check. Contract: it only reads (never changes either database); it returns its rows,
/// none when it does not apply (a target-only check without a target); it may throw a
/// <see cref="Npgsql.PostgresException"/> when it cannot run (permission denied, a catalog an old server
/// lacks): the runner turns that into a warning row, so one check that cannot run never stops the others.
/// </summary>
public interface IPreflightCheck
{
    /// <summary>The check's name in the report ("extensions", "large objects").</summary>
    string Name { get; }

    Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken);
}

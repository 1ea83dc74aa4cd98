using PgRelocate.Catalog;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// pg_dump reads every user table and sequence as the source's login role and stops at the first it may
/// not read ("permission denied") or whose rows row-level security would hide from it ("query would be
/// affected by row-level security policy"), after the dump has started; a copy would silently miss the hidden
/// rows. Found here instead, with what to run. dump, copy and migrate refuse on the same finding
/// (<see cref="SourceReadability"/>).
/// </summary>
internal sealed class UnreadableTablesCheck : IPreflightCheck
{
    public string Name => "readable tables";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var role = context.SourceServer.User;
        var found = await context.Once(nameof(SourceReadability), () => SourceReadability.ReadAsync(context.Source, cancellationToken));
        if (found.Found(role) is not { } what)
        {
            return [CheckResult.Ok(Name, $"{role} may read every row of every table and sequence.")];
        }

        return [CheckResult.Block(Name, what, found.Next(role)) with { Details = found.Details(role) }];
    }
}

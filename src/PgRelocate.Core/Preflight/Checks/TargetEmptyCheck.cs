using PgRelocate.Targets;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// What a restore checks of its target before it touches it, asked the same way (<see cref="TargetPreparation"/>),
/// so that `check` and `restore` cannot disagree: whether it holds user objects (extensions, what belongs to
/// them and the provider's schemas do not count), whether emptying it fits one transaction of its lock table,
/// free connection slots, that it takes writes, and that no other migration holds it. One row each.
/// </summary>
internal sealed class TargetEmptyCheck : IPreflightCheck
{
    public string Name => "target empty";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        if (!context.HasTarget)
        {
            return [];
        }

        var inspected = await TargetPreparation.InspectAsync(context.Target!, context.TargetInfo!, new TargetRequirements { OwnSessions = context.OwnSessions, Sessions = context.TargetSessions }, cancellationToken);
        // The restore and the copy refuse these again as they prepare the target: --allow cannot lift them (--confirm lifts "target empty").
        return [.. inspected.Findings.Select(f => f.Check == Name ? f : f with { Overridable = false })];
    }
}

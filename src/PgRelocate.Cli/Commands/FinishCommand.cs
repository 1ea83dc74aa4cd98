using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Online.Fallback;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate finish ID</c>: keeps the target of a migration made with --online --fallback and ends its way
/// back: the capture removed from the target, the old source's record removed (the old source stays read-only).
/// The same request and wait as <see cref="RollbackCommand"/>.
/// </summary>
internal static class FinishCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The online migration's id (started with --fallback, switched)." };
    private static readonly Option<int> Wait = WaitOption.Option;

    public static Command Create()
    {
        var command = new Command("finish", "End the way back of a migration made with --online --fallback: keep the target, remove the capture from it and the way back's record from the old source. Waits (up to --wait seconds).") { Id, Wait, WorkDirOption.Option };
        command.SetAction((ctx, ct) => RollbackCommand.RunAsync(ctx, ctx.Parse.GetValue(Id)!, ctx.Parse.GetValue(Wait), FallbackEnd.Finish, ct));
        return command;
    }
}

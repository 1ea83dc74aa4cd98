using System.CommandLine;

namespace PgRelocate.Cli.Commands;

/// <summary>--wait, shared by the commands that ask a running migration to do something and wait for it: cutover, rollback and finish.</summary>
internal static class WaitOption
{
    public static readonly Option<int> Option = new("--wait")
    {
        Description = "How long to wait for the migration to carry out the request, in seconds.",
        DefaultValueFactory = _ => 600,
    };
}

using System.CommandLine;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// --confirm, shared by the commands that replace what a target database holds. <c>settings apply</c>'s --confirm
/// (always required, for a change of settings) is its own.
/// </summary>
internal static class ConfirmOption
{
    public static readonly Option<string?> Option = new("--confirm")
    {
        Description = "The target database's name: restore and copy need it to replace what a non-empty target holds; migrate always needs it and replaces what the target holds.",
    };
}

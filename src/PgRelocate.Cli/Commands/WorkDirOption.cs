using System.CommandLine;
using PgRelocate.Tools;

namespace PgRelocate.Cli.Commands;

/// <summary>The folder holding one subfolder per migration: --workdir, else the state folder.</summary>
internal static class WorkDirOption
{
    public static readonly Option<string?> Option = new("--workdir")
    {
        Description = "The folder holding the migrations' journals (default: $XDG_STATE_HOME/pgrelocate/migrations).",
    };

    public static string Get(ParseResult parse) =>
        Path.GetFullPath(parse.GetValue(Option) ?? Path.Combine(StatePaths.Root, "migrations"));
}

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

    /// <summary>The folder, for a command that writes journals there: refused before anything changes when it cannot be written.</summary>
    public static string Writable(ParseResult parse)
    {
        var folder = Get(parse);
        OutputPaths.EnsureFolderWritable(folder, "--workdir");
        return folder;
    }
}

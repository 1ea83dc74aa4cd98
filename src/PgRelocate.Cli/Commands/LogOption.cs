using System.CommandLine;
using PgRelocate.Tools;

namespace PgRelocate.Cli.Commands;

/// <summary>--log, shared by restore and copy: where the whole output of the PostgreSQL tools they run is kept.</summary>
internal static class LogOption
{
    public static readonly Option<string?> Option = new("--log")
    {
        Description = "Where to keep the whole output of the PostgreSQL tools it runs: pg_restore, and pg_dump for copy (default: a new file in the state folder).",
    };

    /// <summary>The file given, else a new one in the state folder named after <paramref name="command"/>.</summary>
    public static string Get(ParseResult parse, string command) => parse.GetValue(Option) ?? StatePaths.NewLogFile(command);
}

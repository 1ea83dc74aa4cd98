using System.CommandLine;

namespace PgRelocate.Cli;

/// <summary>Options every command accepts.</summary>
internal static class GlobalOptions
{
    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print the result as one JSON object on stdout; progress and log lines go to stderr.",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Print every log line, child process command lines, and stack traces of unexpected errors.",
        Recursive = true,
    };

    public static readonly Option<string?> PgBin = new("--pg-bin")
    {
        Description = "Folder holding pg_dump and pg_restore to use (default: PGRELOCATE_PG_BIN, /usr/lib/postgresql/*/bin, PATH).",
        Recursive = true,
    };

    public static IEnumerable<Option> All => [Json, Verbose, PgBin];
}

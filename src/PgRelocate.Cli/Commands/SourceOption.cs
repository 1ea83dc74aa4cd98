using System.CommandLine;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// --source, the database a command reads: declared here once, in its two forms. <c>settings diff</c>'s --source
/// (a URL or a captured CSV) is another thing and its own.
/// </summary>
internal static class SourceOption
{
    /// <summary>How a database is given, the same for --source and --target.</summary>
    public const string Connection = "postgres://USER:PASSWORD@HOST:PORT/DB or a keyword string";

    /// <summary>check, verify, dump and copy: the database they read, always given.</summary>
    public static readonly Option<string> Required = new("--source", "-s")
    {
        Description = $"The source database: {Connection}.",
        Required = true,
    };

    /// <summary>migrate, status and cancel: given, else taken from PGRELOCATE_SOURCE.</summary>
    public static readonly Option<string?> OrVariable = new("--source", "-s")
    {
        Description = $"The source database: {Connection} (or {MigrateCommand.SourceVariable}). status and cancel need it only when the migration's process is gone: status to read the WAL a slot holds, cancel to lift a read-only source itself and remove what an online migration left on it.",
    };
}

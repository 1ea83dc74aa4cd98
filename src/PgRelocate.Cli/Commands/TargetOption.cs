using System.CommandLine;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// --target, the database a command writes or compares with: declared here once, in its three forms, as
/// <see cref="SourceOption"/>. <c>settings diff</c>'s --target (a URL or a captured CSV) and <c>settings apply</c>'s
/// (the database whose settings change) are other things and their own.
/// </summary>
internal static class TargetOption
{
    /// <summary>restore, copy and verify: the database they write or compare, always given.</summary>
    public static readonly Option<string> Required = new("--target", "-t")
    {
        Description = $"The target database: {SourceOption.Connection}.",
        Required = true,
    };

    /// <summary>check: the target is optional, and without it only the source is checked.</summary>
    public static readonly Option<string?> Optional = new("--target", "-t")
    {
        Description = $"The target database: {SourceOption.Connection}. Without it only the source is checked.",
    };

    /// <summary>migrate and cancel: given, else taken from PGRELOCATE_TARGET.</summary>
    public static readonly Option<string?> OrVariable = new("--target", "-t")
    {
        Description = $"The target database: {SourceOption.Connection} (or {MigrateCommand.TargetVariable}). cancel needs it only when the migration's process is gone, to remove an online migration's schema from it.",
    };
}

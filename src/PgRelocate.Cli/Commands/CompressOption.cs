using System.CommandLine;
using PgRelocate.Errors;

namespace PgRelocate.Cli.Commands;

/// <summary>--compress, shared by the commands that run pg_dump.</summary>
internal static class CompressOption
{
    public static readonly Option<int?> Option = new("--compress", "-Z")
    {
        Description = "pg_dump's gzip level, 0 (none) to 9 (smallest); default: 6 for dump (pg_dump's own), 1 for migrate (about half the CPU of 6, for an archive a little larger).",
    };

    public static int? Get(ParseResult parse) =>
        parse.GetValue(Option) is { } level and (< 0 or > 9)
            ? throw new UsageException($"--compress {level} is not a gzip level: pass 0 (no compression) to 9 (smallest archive).")
            : parse.GetValue(Option);
}

using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Targets;

namespace PgRelocate.Cli.Commands;

/// <summary>--lock-timeout, shared by the commands that empty a target with --confirm.</summary>
internal static class LockTimeoutOption
{
    public static readonly Option<int?> Option = new("--lock-timeout")
    {
        Description = $"Seconds emptying the target waits for another session's lock before it gives up, naming that session (default {(int)TargetRequirements.DefaultLockTimeout.TotalSeconds}).",
    };

    public static TimeSpan Get(ParseResult parse) => parse.GetValue(Option) switch
    {
        null => TargetRequirements.DefaultLockTimeout,
        < 1 and var s => throw new UsageException($"--lock-timeout {s} is too short: pass a number of seconds, 1 or more."),
        var s => TimeSpan.FromSeconds(s.Value),
    };
}

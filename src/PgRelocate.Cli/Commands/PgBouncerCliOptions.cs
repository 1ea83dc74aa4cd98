using System.CommandLine;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Poolers;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// --pgbouncer and its companions, shared by <c>migrate</c> (with --online) and <c>cancel</c> (the console, to
/// resume an application a killed migration left paused).
/// </summary>
internal static class PgBouncerCliOptions
{
    public const string AdminVariable = "PGRELOCATE_PGBOUNCER";

    public static readonly Option<string?> Admin = new("--pgbouncer")
    {
        Description = $"PgBouncer's admin console (postgres://ADMIN:PW@HOST:PORT/pgbouncer, or {AdminVariable}): with --online, the cutover holds the application's queries there (PAUSE), repoints its entry at the target, RELOADs and RESUMEs (with --fallback, once the way back's capture is on the target; a rollback turns the entry back); with cancel, resumes an application a stopped migration left paused.",
    };

    public static readonly Option<string?> Ini = new("--pgbouncer-ini") { Description = "With --pgbouncer: PgBouncer's configuration file, whose entry the cutover repoints at the target (mode kept, the previous file kept beside it)." };

    public static readonly Option<string?> Database = new("--pgbouncer-database") { Description = "With --pgbouncer: the [databases] entry the application connects through (default: the source's database name)." };

    public static readonly Option<string?> MaxPause = new("--max-pause") { Description = "With --pgbouncer: how long PAUSE may wait for the application's running transactions before the cutover gives up and resumes at the source (5s, 500ms; default 5s)." };

    /// <summary>The options of a new migration behind PgBouncer; null without --pgbouncer (its companions alone are refused).</summary>
    public static PgBouncerOptions? Get(CommandContext ctx, PgConnectionInfo source)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(source);
        var parse = ctx.Parse;
        if (ctx.Connection(Admin, AdminVariable) is not { } admin)
        {
            return parse.GetValue(Ini) is not null || parse.GetValue(Database) is not null || parse.GetValue(MaxPause) is not null
                ? throw new UsageException("--pgbouncer-ini, --pgbouncer-database and --max-pause go with --pgbouncer ADMIN_URL: add it, or leave them out.")
                : null;
        }

        return new PgBouncerOptions
        {
            Admin = admin,
            IniFile = parse.GetValue(Ini) is { } ini ? Path.GetFullPath(ini) : "",
            Entry = parse.GetValue(Database) ?? source.Database,
            MaxPause = parse.GetValue(MaxPause) is { } max ? MigrateCommand.ParseDuration(max, "--max-pause") : PgBouncerOptions.DefaultMaxPause,
        };
    }

    /// <summary>The console given again (to <c>--resume</c> or <c>cancel</c>), for its password; null when not given.</summary>
    public static PgConnectionInfo? GivenAdmin(CommandContext ctx) => ctx?.Connection(Admin, AdminVariable);
}

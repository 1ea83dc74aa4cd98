using System.CommandLine;
using PgRelocate.Archives;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Staging;
using PgRelocate.Targets;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate restore ARCHIVE --target URL [--confirm DB] [--roles]</c>: pg_restore without owners or grants, or with the archive's (--roles).</summary>
internal static class RestoreCommand
{
    private static readonly Argument<string> Archive = new("archive") { Description = "The archive written by 'pgrelocate dump' (or pg_dump -Fc): a file, s3://BUCKET/KEY, azure://ACCOUNT/CONTAINER/BLOB or an http(s) URL such as a signed one." };
    private static readonly Option<string> Target = TargetOption.Required;
    private static readonly Option<string?> Confirm = ConfirmOption.Option;
    private static readonly Option<int> Jobs = JobsOption.Restore;
    private static readonly Option<string?> Manifest = new("--manifest") { Description = "The archive's manifest, a file or a URL such as its signed URL (default: ARCHIVE.manifest.json beside the archive or an unsigned URL, when present)." };

    public static Command Create()
    {
        var command = new Command("restore", "Restore an archive into a target database: no roles, ownership to the target's login role (with --roles: the archive's roles, owners and grants), harmless errors classified.")
        {
            Archive, Target, Confirm, Jobs, Manifest, LogOption.Option, LockTimeoutOption.Option,
        };
        StagingCliOptions.AddTo(command);
        RoleOptions.AddTo(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var (roles, renames, privileged) = RoleOptions.Get(ctx.Parse);
        if (privileged)
        {
            throw new UsageException("restore --roles creates the roles an archive names NOLOGIN, with no attribute (an archive records none): --roles-with-privileged-attributes works with copy and migrate, which read the source. Leave it out.");
        }

        if (renames.Count > 0)
        {
            throw new UsageException("restore --roles keeps the role names the archive's owners and grants are written with: --map-role works with copy and migrate, which read the source. Leave out --map-role (after the restore, REASSIGN OWNED BY OLD TO NEW moves what a role owns).");
        }

        var target = ctx.Connection(Target);
        var options = new LocationRestoreOptions
        {
            Into = new TargetOptions
            {
                Connection = target,
                Confirm = ctx.Parse.GetValue(Confirm),
                LockTimeout = LockTimeoutOption.Get(ctx.Parse),
                Jobs = ctx.Parse.GetValue(Jobs),
            },
            Location = ctx.Parse.GetValue(Archive)!,
            ManifestLocation = ctx.Parse.GetValue(Manifest),
            Staging = StagingCliOptions.Read(ctx.Parse),
            LogPath = LogOption.Get(ctx.Parse, "restore"),
            Roles = roles,
        };

        // One run at a time per target, as a migration: held until the restore ends.
        var (held, into) = await HeldMigrationLock.AcquireForAsync("restore", options.Into, cancellationToken);
        await using var holding = held;
        options = options with { Into = into };
        ctx.Watch(options.Into);
        var result = await new ArchiveSources(ctx.Binaries, ctx.Reporter).RestoreAsync(options, cancellationToken);
        ctx.Reporter.Stop();
        Render(ctx, target.Display, result);
        return result.Status == RestoreStatus.Failed ? ExitCode.Failed : ExitCode.Success;
    }

    internal static void Render(CommandContext ctx, string target, RestoreResult result)
    {
        if (ctx.Json)
        {
            ctx.WriteJson(new RestoreJson(
                result.StatusText,
                target,
                [.. result.Warnings.Select(w => new IssueJson(w.Entry, w.Message, w.HarmlessBecause))],
                [.. result.Errors.Select(e => new ErrorJson(e.Entry, e.Message, e.Command))],
                RoleJson.Of(result.Roles),
                result.LogPath,
                Math.Round(result.Duration.TotalSeconds, 1)), c => c.RestoreJson);
            return;
        }

        ctx.Out.WriteLine($"Restore into {target}: {result.StatusText} in {Units.Duration(result.Duration)}");
        if (result.Roles.Count > 0 || result.Access is not null)
        {
            ctx.Out.WriteLine($"  roles (--roles): {Catalog.RoleOutcome.Summary(result.Roles)}; {(result.Access is { } a ? $"owners and grants as the archive has them: {a.Owners} objects given their owners, {a.Grants} privilege entries" : "owners and grants not given (the restore failed)")}.");
            foreach (var r in result.Roles.Where(r => r.Notable || r.Action == "created"))
            {
                ctx.Out.WriteLine($"    {r}");
            }
        }

        foreach (var w in result.Warnings)
        {
            ctx.Out.WriteLine($"  warning: {w} (harmless: {w.HarmlessBecause})");
        }

        foreach (var e in result.Errors)
        {
            ctx.Out.WriteLine($"  error: {e}");
        }

        if (result.Status == RestoreStatus.Failed && result.Errors.Count == 0)
        {
            foreach (var line in result.LastLines.TakeLast(8))
            {
                ctx.Out.WriteLine("  | " + line);
            }
        }

        ctx.Out.WriteLine($"  log: {result.LogPath}");
    }
}

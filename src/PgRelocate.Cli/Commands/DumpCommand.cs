using System.CommandLine;
using PgRelocate.Archives;
using PgRelocate.Dump;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Staging;
using PgRelocate.Tools;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate dump --source URL --to FILE</c>: pg_dump -Fc with large objects, a manifest beside it.</summary>
internal static class DumpCommand
{
    private static readonly Option<string> Source = SourceOption.Required;
    private static readonly Option<string> To = new("--to", "-o") { Description = "Where to write the archive: a file, s3://BUCKET/KEY or azure://ACCOUNT/CONTAINER/BLOB; KEY.manifest.json is written beside it.", Required = true };
    private static readonly Option<bool> CreateBucket = StagingCliOptions.CreateBucket;
    private static readonly Option<bool> AllowPublic = new("--allow-public") { Description = "Write even into a bucket or container open to the public." };
    private static readonly Option<bool> Force = new("--force") { Description = "Replace an existing archive at --to." };

    public static Command Create()
    {
        var command = new Command("dump", "Dump a database with pg_dump -Fc (large objects included), with progress, a SHA-256 and a manifest.")
        {
            Source, To, CompressOption.Option, Force, CreateBucket, AllowPublic,
        };
        StagingCliOptions.AddTo(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var source = ctx.Connection(Source);
        await Online.OrphanedSlots.WarnAsync(source, ctx.Reporter, null, cancellationToken);
        var location = StagingLocation.Parse(ctx.Parse.GetValue(To)!);
        if (location.IsRemote)
        {
            return await DumpToLocationAsync(ctx, source, location, cancellationToken);
        }

        var path = location.Key;
        var folder = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(folder))
        {
            throw new UsageException($"The folder '{folder}' does not exist: create it or choose another --to path.");
        }

        if (Directory.Exists(path))
        {
            throw new UsageException($"'{path}' is a folder: --to takes a file name, such as {Path.Combine(path, "app.dump")}.");
        }

        OutputPaths.EnsureFileOrAbsent(path, "--to");
        if (File.Exists(path) && !ctx.Parse.GetValue(Force))
        {
            throw new UsageException($"'{path}' already exists: choose another --to path, or pass --force to replace it.");
        }

        // Found out now, not after pg_dump has run: a write that fails is not worth trying again.
        OutputPaths.EnsureWritable(path, "--to");
        OutputPaths.EnsureWritable(DumpManifest.PathFor(path), "--to's manifest");

        return await DumpToLocationAsync(ctx, source, location, cancellationToken);
    }

    private static async Task<ExitCode> DumpToLocationAsync(CommandContext ctx, Connections.PgConnectionInfo source, StagingLocation location, CancellationToken cancellationToken)
    {
        var store = StagingStores.Open(location, StagingCliOptions.Read(ctx.Parse), ctx.Reporter);
        var manifest = await StagedDump.DumpAsync(
            new DumpRunner(ctx.Binaries, ctx.Reporter, CompressOption.Get(ctx.Parse)), source, location, store, ctx.Parse.GetValue(Force), ctx.Parse.GetValue(CreateBucket), ctx.Parse.GetValue(AllowPublic), ctx.Reporter, cancellationToken);
        ctx.Reporter.Stop();
        if (ctx.Json)
        {
            ctx.WriteJson(new DumpJson(location.ToString(), location.Manifest!.ToString(), manifest), c => c.DumpJson);
        }
        else
        {
            ctx.Out.WriteLine($"Dumped {source.Database} to {location}");
            ctx.Out.WriteLine($"  archive   {Units.Bytes(manifest.ArchiveBytes)} (database {Units.Bytes(manifest.DatabaseSizeBytes)}, {manifest.Tables.Count} tables, {manifest.LargeObjects} large objects)");
            ctx.Out.WriteLine($"  sha256    {manifest.Sha256}");
            ctx.Out.WriteLine($"  manifest  {location.Manifest}");
            ctx.Out.WriteLine($"  took      {Units.Duration(manifest.FinishedAt - manifest.StartedAt)} with pg_dump {manifest.PgDumpVersion}");
            if (location.IsRemote)
            {
                ctx.Out.WriteLine($"  next      pgrelocate url {location} --expires 15m --with-manifest");
            }
        }

        return ExitCode.Success;
    }
}

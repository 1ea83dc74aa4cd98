using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Staging;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate staged rm LOCATION</c>: deletes a staged archive and its manifest.</summary>
internal static class StagedCommand
{
    private static readonly Argument<string> Location = new("location") { Description = "The archive: a path, s3://BUCKET/KEY or azure://ACCOUNT/CONTAINER/BLOB." };

    public static Command Create()
    {
        var rm = new Command("rm", "Delete a staged archive and its manifest (KEY.manifest.json).") { Location };
        StagingCliOptions.AddTo(rm);
        rm.SetAction(RemoveAsync);
        return new Command("staged", "Manage archives staged in object storage.") { rm };
    }

    private static async Task<ExitCode> RemoveAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var location = StagingLocation.Parse(ctx.Parse.GetValue(Location)!);
        var store = StagingStores.Open(location, StagingCliOptions.Read(ctx.Parse), ctx.Reporter);
        if (!store.CanWrite)
        {
            throw new UsageException($"{location} is a URL: delete the object through its s3:// or azure:// location.");
        }

        var existed = await store.StatAsync(location.Key, cancellationToken) is not null;
        // Parts of an upload whose process was killed are invisible under the key, but kept (and billed) until aborted.
        var aborted = await PendingUploads.AbortAbandonedAsync(store, location.Key, cancellationToken);
        await store.DeleteAsync(location.Key, cancellationToken);
        await store.DeleteAsync(location.Manifest!.Key, cancellationToken);
        if (ctx.Json)
        {
            ctx.WriteJson(new StagedRemovedJson(location.ToString(), existed, aborted), c => c.StagedRemovedJson);
        }
        else
        {
            ctx.Out.WriteLine(existed ? $"Deleted {location} and its manifest." : $"{location} was not there; its manifest is gone too.");
            if (aborted > 0)
            {
                ctx.Out.WriteLine($"Aborted {aborted} unfinished {Sentences.Plural(aborted, "upload")} to it, left by a process that was killed.");
            }
        }

        return ExitCode.Success;
    }
}

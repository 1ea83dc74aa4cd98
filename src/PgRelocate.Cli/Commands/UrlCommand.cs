using System.CommandLine;
using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Staging;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate url LOCATION [--expires 15m]</c>: a presigned S3 GET URL or a read-only service SAS URL.
/// The URL is a bearer credential: it goes to stdout and nowhere else; stderr names it redacted.
/// </summary>
internal static class UrlCommand
{
    private static readonly Argument<string> Location = new("location") { Description = "s3://BUCKET/KEY or azure://ACCOUNT/CONTAINER/BLOB." };
    private static readonly Option<string> Expires = new("--expires") { Description = "How long the URL works: 90s, 15m, 2h, up to 7d.", DefaultValueFactory = _ => "15m" };
    private static readonly Option<string?> HerokuApp = new("--heroku-app") { Description = "Also print the heroku pg:backups:restore command for this app." };
    private static readonly Option<bool> WithManifest = new("--with-manifest") { Description = "Also sign the manifest stored beside the archive and print its URL on a second line, for 'restore URL --manifest URL'." };
    private static readonly Option<string> HerokuDb = new("--heroku-db") { Description = "The Heroku database to restore into.", DefaultValueFactory = _ => "DATABASE_URL" };

    public static Command Create()
    {
        var command = new Command("url", "Print a short-lived signed URL to download a staged archive (S3 presigned GET, or Azure read-only SAS).")
        {
            Location, Expires, WithManifest, HerokuApp, HerokuDb,
        };
        StagingCliOptions.AddTo(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var lifetime = Expiry.Parse(ctx.Parse.GetValue(Expires)!);
        var location = StagingLocation.Parse(ctx.Parse.GetValue(Location)!);
        if (location.Kind is not (LocationKind.S3 or LocationKind.Azure))
        {
            throw new UsageException($"{location} cannot be signed: give an s3:// or azure:// location.");
        }

        var store = StagingStores.Open(location, StagingCliOptions.Read(ctx.Parse), ctx.Reporter);
        if (await store.StatAsync(location.Key, cancellationToken) is null)
        {
            throw new StagingNotFoundException($"{location} does not exist: stage it first with 'pgrelocate dump --to {location}'.");
        }

        var manifest = ctx.Parse.GetValue(WithManifest) ? location.Manifest! : null;
        if (manifest is not null && await store.StatAsync(manifest.Key, cancellationToken) is null)
        {
            throw new StagingNotFoundException($"{location} has no manifest beside it ({manifest}): leave --with-manifest out, and restore from the URL without checking the archive's identity.");
        }

        var expiresAt = DateTimeOffset.UtcNow + lifetime;
        var url = store.PresignGet(location.Key, expiresAt).AbsoluteUri;
        var manifestUrl = manifest is null ? null : store.PresignGet(manifest.Key, expiresAt).AbsoluteUri;
        var app = ctx.Parse.GetValue(HerokuApp);
        if (ctx.Json)
        {
            ctx.WriteJson(new UrlJson(url, manifestUrl, expiresAt, app is null ? null : HerokuCommand(url, app, ctx.Parse.GetValue(HerokuDb)!)), c => c.UrlJson);
        }
        else
        {
            Console.Out.WriteLine(url);
            if (manifestUrl is not null)
            {
                Console.Out.WriteLine(manifestUrl);
            }

            if (app is not null)
            {
                Console.Out.WriteLine(HerokuCommand(url, app, ctx.Parse.GetValue(HerokuDb)!));
            }
        }

        ctx.Reporter.Info(string.Create(CultureInfo.InvariantCulture, $"Signed {SignedUrl.Redact(new Uri(url))}: read only, valid for {Units.Duration(lifetime)}. Anyone holding it can download the archive until then."));
        return ExitCode.Success;
    }

    // Straight quotes: typographic ones (from a web page or a chat) break the command.
    private static string HerokuCommand(string url, string app, string db) =>
        $"heroku pg:backups:restore '{url}' {db} --app {app} --confirm {app}";
}

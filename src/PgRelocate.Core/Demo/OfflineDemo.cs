using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Dump;
using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Staging;
using PgRelocate.Targets;
using PgRelocate.Tools;
using PgRelocate.Verify;

namespace PgRelocate.Demo;

/// <summary>What the offline demo did: the archive, the restore, and the verification (null when the restore failed).</summary>
public sealed record OfflineDemoResult(DumpManifest Manifest, RestoreResult Restore, VerificationResult? Verification);

/// <summary>
/// <c>pgrelocate demo</c>'s run without <c>--online</c>: the sample database dumped into a staged archive in the
/// demo's folder, restored from it with two jobs, and verified, by the same engines as <c>dump</c>,
/// <c>restore</c> and <c>verify</c>. The command renders its <see cref="OfflineDemoResult"/>.
/// </summary>
public static class OfflineDemo
{
    public static async Task<OfflineDemoResult> RunAsync(PgConnectionInfo source, PgConnectionInfo target, string folder, PgBinaries binaries, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reporter);
        var archive = Path.Combine(folder, "shop.dump");
        var location = StagingLocation.Parse(archive);
        var manifest = await StagedDump.DumpAsync(
            new DumpRunner(binaries, reporter), source, location, StagingStores.Open(location, new StagingOptions(), reporter), force: true, createBucket: false, allowPublic: false, reporter, cancellationToken);
        var restore = await new ArchiveSources(binaries, reporter).RestoreAsync(
            new LocationRestoreOptions
            {
                Into = new TargetOptions { Connection = target, Jobs = 2 },
                Location = archive,
                Manifest = manifest,
                LogPath = Path.Combine(folder, "restore.log"),
            },
            cancellationToken);
        var verification = restore.Status == RestoreStatus.Failed
            ? null
            : await Verifier.RunAsync(new VerifyOptions { Source = source, Target = target }, reporter, cancellationToken);
        return new OfflineDemoResult(manifest, restore, verification);
    }
}

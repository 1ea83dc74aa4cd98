using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Staging;

namespace PgRelocate.Migration;

/// <summary>
/// Which migrations may be asked for: the combinations of options a new migration accepts (and what one option
/// implies for another), and what a resumed one refuses. The command line parses values and calls these; the
/// messages name the command line's options, since that is where a user fixes them.
/// </summary>
public static class MigrationOptionsRules
{
    /// <summary>
    /// The options a migration's journal fixes (it records them, see <see cref="MigrationOptions.ToJournal"/>): given
    /// again to <c>--resume</c>, one would be silently ignored, so it is refused. The connections are given again
    /// (the journal keeps no secrets) and must be the same; <c>--show-secrets</c>, <c>--report</c>,
    /// <c>--detach</c> and <c>--workdir</c> change nothing the migration does. The store's options (<c>--profile</c>,
    /// <c>--region</c>, ..., <see cref="MigrationOptions.Staging"/>) are recorded too, and refused alike: the resumed
    /// run reaches the store as the journal says (its secrets come from the environment). <c>--not-consistent</c> is
    /// not among them: it accepts, for the run it is given to, a resumed copy the source was not kept read-only for.
    /// </summary>
    public static IReadOnlyList<string> FixedByJournal { get; } =
    [
        "--confirm", "--via", "--jobs", "--compress", "--read-only-source", "--keep-read-only", "--apply-settings", "--keep-archive", "--allow",
        "--create-bucket", "--direct", "--online", "--roles", "--map-role", "--roles-with-privileged-attributes", "--cutover", "--max-lag", "--replica-identity-full", "--max-retained-wal", "--on-schema-change", "--fallback", "--max-fallback-queue", "--lock-timeout", "--pgbouncer-ini", "--pgbouncer-database", "--max-pause",
        "--profile", "--region", "--endpoint-url", "--provider", "--sse", "--sse-kms-key-id",
        "--databases", "--all-databases", "--confirm-all", "--no-estimate", "--estimate-seconds",
    ];

    /// <summary>
    /// Checks a new migration's options against each other and returns those it runs with: online, the source is
    /// made read-only for the cutover and stays so after it (the applications then write to the target); at least
    /// one job; pg_dump compresses lightly unless told otherwise (the restore runs beside it on the same machine).
    /// Reads nothing but the options: <see cref="ValidateAsync"/> also checks the two databases.
    /// </summary>
    /// <exception cref="UsageException">A rule is broken; the message names the options and what to change.</exception>
    public static MigrationOptions Validate(this MigrationOptions given)
    {
        ArgumentNullException.ThrowIfNull(given);
        if (string.IsNullOrEmpty(given.Into.Confirm))
        {
            throw new UsageException($"--confirm is required: pass --confirm {given.Into.Connection.Database} to let the migration replace what the target holds.");
        }

        if (!string.Equals(given.Into.Confirm, given.Into.Connection.Database, StringComparison.Ordinal))
        {
            throw new UsageException($"--confirm '{given.Into.Confirm}' does not match the target database '{given.Into.Connection.Database}'. Nothing was changed.");
        }

        if (given.MaxRetainedWal is not null && !given.Online)
        {
            throw new UsageException("--max-retained-wal limits the WAL an online migration's replication slot holds on the source: add --online, or leave it out.");
        }

        if (given.MaxRetainedWal is <= 0)
        {
            throw new UsageException($"--max-retained-wal '{given.MaxRetainedWal}' is not a size: write it like 20GB, 500MB or 1.5TB.");
        }

        if (given.Fallback && !given.Online)
        {
            throw new UsageException("--fallback keeps the old source in step after an online migration's switch: add --online, or leave it out.");
        }

        if (given.MaxFallbackQueue is not null && !given.Fallback)
        {
            throw new UsageException("--max-fallback-queue limits the way back's queue on the target: add --fallback, or leave it out.");
        }

        if (given.MaxFallbackQueue is <= 0)
        {
            throw new UsageException($"--max-fallback-queue '{given.MaxFallbackQueue}' is not a size: write it like 1GB or 500MB.");
        }

        if (given.RoleRenames.Count > 0 && !given.Roles)
        {
            throw new UsageException("--map-role renames roles that --roles creates: add --roles, or leave out --map-role.");
        }

        if (given.PrivilegedAttributes && !given.Roles)
        {
            throw new UsageException("--roles-with-privileged-attributes gives the roles --roles creates their SUPERUSER, REPLICATION and BYPASSRLS: add --roles, or leave it out.");
        }

        if (given.Direct && given.Via is not null)
        {
            throw new UsageException("--direct copies between the servers with no archive: leave out --via, or --direct.");
        }

        if (given.Via is { } via && StagingLocation.Parse(via).Kind == LocationKind.Http)
        {
            throw new UsageException("--via needs a place to write the archive (s3://BUCKET/KEY, azure://ACCOUNT/CONTAINER/BLOB or a path), not a URL.");
        }

        if (given.Online && given.Via is not null)
        {
            throw new UsageException("--online copies between the servers with no archive: leave out --via.");
        }

        if (given.PgBouncer is { } pgbouncer)
        {
            if (!given.Online)
            {
                throw new UsageException("--pgbouncer holds the application's queries at PgBouncer for an online cutover: add --online, or leave it out.");
            }

            if (pgbouncer.IniFile.Length == 0)
            {
                throw new UsageException("--pgbouncer needs --pgbouncer-ini FILE, the configuration file whose entry the cutover repoints at the target.");
            }

            if (pgbouncer.MaxPause <= TimeSpan.Zero)
            {
                throw new UsageException($"--max-pause '{pgbouncer.MaxPause}' is not a duration: write 5s, 500ms or 2m.");
            }
        }

        if (given.MaxLag <= TimeSpan.Zero)
        {
            throw new UsageException($"--max-lag '{given.MaxLag}' is not a duration: write 5s, 500ms or 2m.");
        }

        return given with
        {
            ReadOnlySource = given.Online || given.ReadOnlySource,
            KeepReadOnly = given.Online || given.KeepReadOnly,
            Into = given.Into with { Jobs = Math.Max(1, given.Into.Jobs) },
            Compression = given.Compression ?? 1,
        };
    }

    /// <summary><see cref="Validate"/>, then the one rule that needs the servers: the source and the target are not the same database.</summary>
    /// <exception cref="UsageException">A rule is broken.</exception>
    public static async Task<MigrationOptions> ValidateAsync(this MigrationOptions given, CancellationToken cancellationToken)
    {
        var options = given.Validate();
        await Targets.TargetPreparation.RefuseSameDatabaseAsync(options.Source, options.Into.Connection, cancellationToken);
        return options;
    }

    /// <summary>
    /// Whether the migration of <paramref name="journal"/> may be resumed as asked: not completed, none of
    /// <see cref="FixedByJournal"/> among the options <paramref name="given"/> (by name, as typed: the journal's
    /// options win), and the same source and target it was started with.
    /// </summary>
    /// <exception cref="UsageException">It may not; the message says what to leave out or pass.</exception>
    public static void CheckResume(MigrationJournal journal, IEnumerable<string> given, PgConnectionInfo source, PgConnectionInfo target)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(given);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var id = journal.Id;
        if (journal.Status == MigrationStatus.Completed)
        {
            throw new UsageException($"Migration {id} already completed: see 'pgrelocate info {id}'.");
        }

        var refused = FixedByJournal.Where(given.Contains).ToList();
        if (refused.Count > 0)
        {
            throw new UsageException($"Migration {id} resumes with the options it was started with ('pgrelocate info {id}' shows them): leave out {string.Join(", ", refused)}, or start a new migration.");
        }

        if (!string.Equals(journal.Target, target.ToString(), StringComparison.Ordinal) || !string.Equals(journal.Source, source.ToString(), StringComparison.Ordinal))
        {
            throw new UsageException($"Migration {id} moves {journal.Source} to {journal.Target}: pass those connections to resume it.");
        }
    }
}

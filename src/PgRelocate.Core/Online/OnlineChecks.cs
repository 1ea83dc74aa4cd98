using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Online.Follow;
using PgRelocate.Preflight;
using PgRelocate.Preflight.Checks;

namespace PgRelocate.Online;

/// <summary>
/// The prerequisites of an online migration (`check --online`), each with the fix for the source's provider
/// when its settings give the provider away: logical decoding on, a role allowed to replicate, a free slot and
/// WAL sender, tables the role owns (for the publication), keys for UPDATE and DELETE once published, and what
/// logical decoding does not carry (unlogged tables, large objects, the schema changes the follow does not carry).
/// </summary>
public static class OnlineChecks
{
    /// <param name="replicaIdentityFull">--replica-identity-full: a table without a key is a warning, not a blocker.</param>
    /// <param name="jobs">The migration's --jobs, which both sides' connection slots are counted for (the target's when one is given).</param>
    public static IReadOnlyList<IPreflightCheck> All(bool replicaIdentityFull, int jobs) =>
    [
        new Check("online: wal_level", WalLevelAsync),
        new Check("online: replication role", RoleAsync),
        new Check("online: replication slots", SlotsAsync),
        new ConnectionSlots(jobs, target: false),
        new ConnectionSlots(jobs, target: true),
        new Check("online: table owners", OwnersAsync),
        new Check("online: replica identity", (c, t) => IdentityAsync(c, replicaIdentityFull, t)),
        new Check("online: not replicated", NotReplicatedAsync),
        LeftoverSlots,
    ];

    /// <summary>The tool's replication slots left on the source's server, with the WAL they hold: every `check` lists them.</summary>
    public static IPreflightCheck LeftoverSlots { get; } = new Check("leftover replication slots", LeftoverSlotsAsync);

    /// <summary>The name of the check that the target has a connection slot for each session the online migration opens there at once.</summary>
    public const string TargetSlotsCheck = "online: target connection slots";

    /// <summary>The name of the check that the source has a connection slot for each session the online migration opens there at once.</summary>
    public const string SourceSlotsCheck = "online: source connection slots";

    private sealed class Check(string name, Func<PreflightContext, CancellationToken, Task<CheckResult>> run) : IPreflightCheck
    {
        public string Name => name;

        public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken) => [await run(context, cancellationToken)];
    }

    /// <summary>
    /// One side's free connection slots against the sessions the online migration opens there at once
    /// (<see cref="OnlineSessions"/>); the target's only when one is given (the source's then counts the comparison's
    /// sessions as if the target were where the source is).
    /// </summary>
    private sealed class ConnectionSlots(int jobs, bool target) : IPreflightCheck
    {
        public string Name => target ? TargetSlotsCheck : SourceSlotsCheck;

        public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
        {
            if (target && !context.HasTarget)
            {
                return [];
            }

            var state = await Catalog.ServerState.ReadAsync(target ? context.Target! : context.Source, cancellationToken);
            var other = context.HasTarget ? context.TargetInfo! : context.SourceInfo;
            var sessions = target
                ? OnlineSessions.OnTarget(jobs, context.SourceInfo, other)
                : OnlineSessions.OnSource(jobs, context.SourceInfo, other);
            return [Targets.TargetPreparation.ConnectionSlots(state, sessions, target ? "target" : "source") with { Check = Name }];
        }
    }

    private enum Provider
    {
        Unknown,
        Rds,
        Azure,
        CloudSql,
    }

    private static async Task<Provider> ProviderAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var names = await Db.ListAsync(conn, "SELECT name FROM pg_catalog.pg_settings WHERE name LIKE 'rds.%' OR name LIKE 'cloudsql.%' OR name LIKE 'azure.%'", r => r.GetString(0), cancellationToken);
        return names.Any(n => n.StartsWith("rds.", StringComparison.Ordinal)) ? Provider.Rds
            : names.Any(n => n.StartsWith("cloudsql.", StringComparison.Ordinal)) ? Provider.CloudSql
            : names.Any(n => n.StartsWith("azure.", StringComparison.Ordinal)) ? Provider.Azure
            : Provider.Unknown;
    }

    private static async Task<CheckResult> WalLevelAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        const string name = "online: wal_level";
        var level = await Db.ScalarAsync<string>(context.Source, "SHOW wal_level", cancellationToken);
        if (level == "logical")
        {
            return CheckResult.Ok(name, "wal_level is logical: the source can stream its changes.");
        }

        var fix = await ProviderAsync(context.Source, cancellationToken) switch
        {
            Provider.Rds => "Set rds.logical_replication = 1 in the instance's (or Aurora cluster's) parameter group, then reboot it.",
            Provider.Azure => "Set the server parameter wal_level to logical (Server parameters in the portal, or az postgres flexible-server parameter set --name wal_level --value logical), then restart the server.",
            Provider.CloudSql => "Set the database flag cloudsql.logical_decoding to on (gcloud sql instances patch INSTANCE --database-flags=cloudsql.logical_decoding=on), which restarts the instance.",
            _ => "Set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical as a superuser) and restart the server.",
        };
        return CheckResult.Block(name, $"wal_level is {level}: the source cannot stream its changes.", fix);
    }

    private static async Task<CheckResult> RoleAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        const string name = "online: replication role";
        var (user, ok) = await Db.SingleAsync(
            context.Source,
            OnlineSql.ReplicationRole,
            r => (r.GetString(0), r.GetBoolean(1)),
            cancellationToken);
        if (ok)
        {
            return CheckResult.Ok(name, $"{user} may open replication connections and create slots.");
        }

        var fix = await ProviderAsync(context.Source, cancellationToken) switch
        {
            Provider.Rds => $"As the master user: GRANT rds_replication TO {user};",
            Provider.Azure => $"As the server's administrator: ALTER ROLE {user} WITH REPLICATION;",
            Provider.CloudSql => $"As a cloudsqlsuperuser: ALTER USER {user} WITH REPLICATION;",
            _ => $"As a superuser: ALTER ROLE {user} WITH REPLICATION; (and allow it a 'replication' line in pg_hba.conf when the server restricts it).",
        };
        return CheckResult.Block(name, $"{user} has neither the REPLICATION attribute nor the provider's replication role.", fix);
    }

    /// <summary>What to do when the source's server has too few replication slots or WAL senders free.</summary>
    public const string SlotsFix = "Raise max_replication_slots and max_wal_senders (a restart), or drop unused slots (pg_drop_replication_slot).";

    /// <summary>The source server's replication slots and WAL senders: how many it allows, and how many are taken.</summary>
    public static Task<(int Slots, int UsedSlots, int Senders, int UsedSenders)> ReplicationCapacityAsync(Npgsql.NpgsqlConnection source, CancellationToken cancellationToken) =>
        Db.SingleAsync(
            source,
            OnlineSql.ReplicationCapacity,
            r => (r.GetInt32(0), r.GetInt32(1), r.GetInt32(2), r.GetInt32(3)),
            cancellationToken);

    private static async Task<CheckResult> SlotsAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        const string name = "online: replication slots";
        var (slots, usedSlots, senders, usedSenders) = await ReplicationCapacityAsync(context.Source, cancellationToken);
        var found = $"{usedSlots} of max_replication_slots {slots} used, {usedSenders} of max_wal_senders {senders}.";
        // One slot and sender follow; a second, for a moment, pins the snapshot the verification while following compares with.
        return slots - usedSlots < 1 || senders - usedSenders < 1
            ? CheckResult.Block(name, found, SlotsFix)
            : slots - usedSlots < 2 || senders - usedSenders < 2
                ? CheckResult.Warn(name, found + " The verification while following needs a second slot and sender for a moment.", SlotsFix)
                : CheckResult.Ok(name, found);
    }

    private static async Task<CheckResult> OwnersAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        const string name = "online: table owners";
        var tables = await Db.ListAsync(
            context.Source,
            OnlineSql.UnownedTables,
            r => r.GetString(1) + "." + r.GetString(2),
            cancellationToken);
        return tables.Count == 0
            ? CheckResult.Ok(name, "The role owns every table: it can publish them.")
            : CheckResult.Block(name, $"{tables.Count} tables belong to other roles: {Findings.Names(tables)}.", "Connect as the tables' owner (or grant the owners' roles to this one): a publication needs ownership.") with { Details = tables };
    }

    private static async Task<CheckResult> IdentityAsync(PreflightContext context, bool replicaIdentityFull, CancellationToken cancellationToken)
    {
        const string name = "online: replica identity";
        var tables = await SourceSide.NoIdentityTablesAsync(context.Source, cancellationToken);
        if (tables.Count == 0)
        {
            return CheckResult.Ok(name, "Every table has a primary key or a replica identity.");
        }

        return replicaIdentityFull
            ? CheckResult.Warn(name, $"{tables.Count} tables have no primary key: {Findings.Names(tables)}.", "--replica-identity-full sets REPLICA IDENTITY FULL on them for the migration (more WAL per change; undone at the end).") with { Details = tables }
            : CheckResult.Block(name, $"{tables.Count} tables have no primary key or replica identity: {Findings.Names(tables)}. Once published, UPDATE and DELETE on them would fail on the source.", "Add primary keys, or pass --replica-identity-full.") with { Details = tables };
    }

    private static async Task<CheckResult> NotReplicatedAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        const string name = "online: not replicated";
        // The user's unlogged tables (an extension's are made again by CREATE EXTENSION, and never published).
        var unlogged = await SourceSide.UnloggedTablesAsync(context.Source, cancellationToken);
        var largeObjects = await Db.ScalarAsync<long>(context.Source, "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata", cancellationToken);
        var parts = new List<string>();
        if (unlogged.Count > 0)
        {
            parts.Add($"{unlogged.Count} unlogged {Sentences.Plural(unlogged.Count, "table")}, {Progress.Units.Bytes(unlogged.Sum(t => t.Bytes))} ({Findings.Names(unlogged.Select(t => t.Name).ToList())}): not in the WAL, so copied again at cutover, while the source is read-only, and compared there; that copy adds to the write downtime");
        }

        if (largeObjects > 0)
        {
            parts.Add($"{largeObjects} large objects (copied again at cutover where their digests differ, which lengthens it)");
        }

        const string ddl = "Schema changes on the source while following are carried from PostgreSQL 14 on: new tables and partitions, column changes, and indexes, constraints, views, functions, types and dropped tables by the cutover; a renamed table is not (rename it on the target too), and what the target refuses is named with the SQL to run.";
        return parts.Count == 0
            ? CheckResult.Ok(name, "Everything is carried by logical decoding. " + ddl)
            : CheckResult.Warn(name, string.Join("; ", parts) + ".", ddl) with { Details = unlogged.Select(t => $"{t.Name} ({Progress.Units.Bytes(t.Bytes)}): copied again at cutover, while the source is read-only").ToList() };
    }

    private static async Task<CheckResult> LeftoverSlotsAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        const string name = "leftover replication slots";
        var named = await OrphanedSlots.ReadAsync(context.Source, context.SourceInfo, cancellationToken);
        var slots = named.Where(OrphanedSlots.IsOurs).ToList();
        // Another program's slot of such a name is not the tool's to remove: named, with no command.
        var others = named.Where(s => !OrphanedSlots.IsOurs(s)).Select(s => $"{s.Name} ({s.Database}): named like pgrelocate's, but {OrphanedSlots.NotOurs(s)}; not pgrelocate's to remove").ToList();
        if (slots.Count == 0)
        {
            return CheckResult.Ok(name, "No replication slot of pgrelocate on the source's server" + (others.Count == 0 ? "." : $" ({others.Count} named like its slots {(others.Count == 1 ? "is" : "are")} not its)."))
                with { Details = others };
        }

        var details = slots.Select(s => $"{s.Name} ({s.Database}, {(s.Active ? "streaming" : "read by no session")}): holds {Progress.Units.Bytes(s.RetainedBytes)} of WAL; remove it: {OrphanedSlots.CleanupCommand(s.Name, s.Database, context.SourceInfo)}").ToList();
        var held = slots.Sum(s => s.RetainedBytes);
        var idle = slots.Where(s => !s.Active).ToList();
        var found = $"{Sentences.Counted(slots.Count, "slot")} of pgrelocate {Sentences.Plural(slots.Count, "holds", "hold")} {Progress.Units.Bytes(held)} of WAL on the source."
            + (idle.Count == 0 ? "" : $" {idle.Count} {(idle.Count == 1 ? "is" : "are")} read by no session: the WAL {(idle.Count == 1 ? "it holds" : "they hold")} grows without limit until {(idle.Count == 1 ? "it is" : "they are")} removed.");
        var next = idle.Count == 0
            ? "Let their migrations finish, or cancel them with the command each line gives."
            : $"Unless {(idle.Count == 1 ? "its migration is" : "their migrations are")} being resumed, remove {(idle.Count == 1 ? "it" : "them")}: {string.Join("; ", idle.Select(s => OrphanedSlots.CleanupCommand(s.Name, s.Database, context.SourceInfo)))}";
        return CheckResult.Warn(name, found, next) with { Details = [.. details, .. others] };
    }
}

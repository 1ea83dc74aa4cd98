using System.Globalization;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Preflight;
using PgRelocate.Progress;

namespace PgRelocate.Targets;

/// <summary>
/// Prepares a target for a restore or a copy, in two phases. <see cref="CheckAsync"/> only reads: the
/// server's version, --confirm against the database's name and the user objects it holds, what emptying would
/// drop or leave that the login role may not drop (another role's view on its table, ...), the extensions
/// the archive needs (installed, or creatable by the login role), free connection slots for the jobs asked
/// for, that the database takes writes, and that no other migration holds it. Any of those refuses before
/// anything is changed. <see cref="EmptyAsync"/> then drops what the restore will make again, once the
/// caller has also checked its archive. `check` reports the same findings as rows (<see cref="InspectAsync"/>),
/// so the check and the restore cannot disagree.
/// </summary>
internal sealed class TargetPreparation
{
    private TargetPreparation(PgConnectionInfo target, TargetRequirements requirements, ServerVersion server, IReadOnlyList<UserObject> objects, IReadOnlyList<CheckResult> findings)
    {
        Target = target;
        Requirements = requirements;
        Server = server;
        Objects = objects;
        Findings = findings;
    }

    public PgConnectionInfo Target { get; }

    public TargetRequirements Requirements { get; }

    /// <summary>The target server's version.</summary>
    public ServerVersion Server { get; }

    /// <summary>The user objects the target held when it was checked.</summary>
    public IReadOnlyList<UserObject> Objects { get; }

    /// <summary>One row per finding, named as `check` shows them ("target empty", "connection slots", ...).</summary>
    public IReadOnlyList<CheckResult> Findings { get; }

    /// <summary>How far the target is (<see cref="Connections.RoundTrip"/>), when <see cref="TargetRequirements.MeasureRoundTrip"/> asked; zero otherwise.</summary>
    public TimeSpan RoundTrip { get; private init; }

    public bool Blocked => Findings.Any(f => f.Status == CheckStatus.Block);

    /// <summary>
    /// Phase one: connects, looks, and refuses when anything blocks.
    /// </summary>
    /// <exception cref="UsageException">A finding blocks (exit 2): its message says what and what to do; nothing was changed.</exception>
    /// <exception cref="PgRelocateException">The target could not be reached, or emptying it would drop or leave what the login role may not drop (exit 1); nothing was changed.</exception>
    public static async Task<TargetPreparation> CheckAsync(PgConnectionInfo target, TargetRequirements requirements, CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        var prepared = await InspectAsync(conn, target, requirements, cancellationToken);
        if (prepared.Findings.FirstOrDefault(f => f.Status == CheckStatus.Block) is { } block)
        {
            // Another role's objects are the target's state, not a mistake in the command line; a policy role the
            // target lacks is the blocker `check` finds (exit 3), whichever command finds it.
            throw block.Check switch
            {
                OtherRolesFinding => new PgRelocateException(Sentences.NothingWasChanged(block.Found, block.Next)),
                PolicyRolesFinding => new PgRelocateException(Sentences.NothingWasChanged(block.Found, block.Next), ExitCode.Differences),
                _ => new UsageException(Sentences.NothingWasChanged(block.Found, block.Next)),
            };
        }

        return prepared;
    }

    /// <summary>Looks at the target through an open connection and returns every finding, blocking or not.</summary>
    public static async Task<TargetPreparation> InspectAsync(NpgsqlConnection conn, PgConnectionInfo target, TargetRequirements requirements, CancellationToken cancellationToken)
    {
        var database = target.Database;
        var findings = new List<CheckResult>();
        var server = await ServerVersion.ReadAsync(conn, cancellationToken);
        await Db.WithoutJitAsync(conn, cancellationToken);

        if (requirements.Source is { } source && SameDatabase(source, await DatabaseIdentity.TryReadAsync(conn, cancellationToken), target) is { } same)
        {
            findings.Add(same);
        }

        if (requirements.SourceMajor is { } sourceMajor)
        {
            var found = $"target PostgreSQL {server.MajorMinor}, source PostgreSQL {sourceMajor}.";
            findings.Add(server.Major < sourceMajor
                ? CheckResult.Block("target version", $"The target runs PostgreSQL {server.MajorMinor}, older than the source's {sourceMajor}.",
                    $"Use a target running PostgreSQL {sourceMajor} or newer.")
                : CheckResult.Ok("target version", found));
        }

        var objects = await UserObjects.ReadAsync(conn, cancellationToken);
        findings.Add(Emptiness(database, requirements.Confirm, objects));
        if (objects.Count > 0)
        {
            findings.Add(OtherRoles(target, await EmptyBlockers.ReadAsync(conn, cancellationToken)));
        }

        findings.Add(await LockTableAsync(conn, objects.Count > 0, cancellationToken));

        if (requirements.PolicyRoles.Count > 0)
        {
            var roles = (await DatabaseAccess.ReadRolesAsync(conn, cancellationToken)).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            findings.Add(PolicyRoles(requirements.PolicyRoles, roles));
        }

        if (requirements.Extensions.Any(e => e != "plpgsql"))
        {
            findings.Add(await ExtensionsAsync(conn, target, requirements, cancellationToken));
        }

        if (requirements.ExtensionSchemas.Count > 0
            && Extensions.InOtherSchemas(requirements.ExtensionSchemas, await Extensions.InstalledAsync(conn, cancellationToken)) is { Count: > 0 } moved)
        {
            findings.Add(CheckResult.Warn(ExtensionSchemasFinding, Extensions.OtherSchemasWarning(moved), "Go on only if nothing uses them.") with { Details = moved });
        }

        var state = await ServerState.ReadAsync(conn, cancellationToken);
        var (free, limit) = state.FreeSlots;
        findings.Add(ConnectionSlots(state, requirements.Sessions));

        findings.Add(state.ReadOnlyReason is { } why
            ? CheckResult.Block("target writable", $"The target database {database} takes no writes: {why}.",
                "Point --target at the primary server, or turn the setting off (ALTER DATABASE ... RESET default_transaction_read_only).")
            : CheckResult.Ok("target writable", $"The target database {database} takes writes."));

        var roundTrip = requirements.MeasureRoundTrip ? await Connections.RoundTrip.MeasureAsync(conn, cancellationToken) : TimeSpan.Zero;
        var holders = await MigrationLock.HoldersAsync(conn, requirements.OwnSessions, cancellationToken);
        findings.Add(holders.Count == 0
            ? CheckResult.Ok("other migrations", "No other migration holds the target.")
            : CheckResult.Block("other migrations", $"Another migration, restore or copy holds the target: {string.Join("; ", holders)}.",
                "Wait for it to finish, or stop it ('pgrelocate cancel', or pg_terminate_backend on that session).") with
            {
                Details = holders.Select(h => h.ToString()).ToList(),
            });

        return new TargetPreparation(target, requirements, server, objects, findings) { RoundTrip = roundTrip };
    }

    /// <summary>The name of the finding on the target's free connection slots.</summary>
    public const string ConnectionSlotsFinding = "connection slots";

    /// <summary>
    /// Whether a server has a free connection slot for each session the run opens there at once: the server's, the
    /// login role's and the database's limits, each less what already uses it. Short, the advice names the largest
    /// --jobs that fits.
    /// </summary>
    /// <param name="side">"target", or "source" for an online migration's.</param>
    internal static CheckResult ConnectionSlots(ServerState state, SessionCount sessions, string side = "target")
    {
        var (free, limit) = state.FreeSlots;
        var needed = sessions.Needed;
        if (free >= needed)
        {
            return CheckResult.Ok(ConnectionSlotsFinding, $"{free} more connections allowed ({limit}); {needed} needed ({sessions.What(sessions.Jobs)}).");
        }

        var fewer = sessions.JobsFitting(free) is { } jobs ? $", or run with --jobs {jobs} ({sessions.ForJobs(jobs)} connections)" : "";
        return CheckResult.Block(ConnectionSlotsFinding, $"The {side} allows {Math.Max(free, 0)} more connections ({limit}), and {needed} are needed ({sessions.What(sessions.Jobs)}).",
            $"Close other sessions or raise the limit{fewer}.");
    }

    internal static CheckResult Emptiness(string database, string? confirm, IReadOnlyList<UserObject> objects)
    {
        const string name = "target empty";
        if (confirm is not null && !string.Equals(confirm, database, StringComparison.Ordinal))
        {
            return CheckResult.Block("confirm", $"--confirm '{confirm}' does not match the target database '{database}'.", $"Pass --confirm {database} to replace its contents.");
        }

        if (objects.Count == 0)
        {
            return CheckResult.Ok(name, $"The target database {database} is empty.");
        }

        var details = objects.Select(o => o.ToString()).ToList();
        return confirm is null
            ? CheckResult.Block(name, $"The target database '{database}' is not empty ({objects.Count} objects: {UserObjects.Sample(objects)}).",
                $"Pass --confirm {database} to replace its contents, or restore into an empty database.") with { Details = details }
            : CheckResult.Ok(name, $"The target database {database} holds {objects.Count} objects; --confirm {database} replaces them.") with { Details = details };
    }

    /// <summary>The name of the finding on what emptying would drop or leave that the login role may not drop.</summary>
    public const string OtherRolesFinding = "other roles' objects";

    /// <summary>
    /// The one wording of "emptying would drop another role's object (it depends on the login role's) or leave
    /// one": each named with its kind, qualified name and owner. `check` shows it as a row; the restore refuses
    /// with it before anything is dropped.
    /// </summary>
    internal static CheckResult OtherRoles(PgConnectionInfo target, IReadOnlyList<EmptyBlocker> blockers)
    {
        var user = target.User;
        if (blockers.Count == 0)
        {
            return CheckResult.Ok(OtherRolesFinding, $"Emptying the target database {target.Database} would drop only what {user} may drop.");
        }

        var dropped = blockers.Where(b => !b.LeftBehind).ToList();
        var left = blockers.Where(b => b.LeftBehind).ToList();
        var parts = new List<string>();
        if (dropped.Count > 0)
        {
            parts.Add($"would drop, because {(dropped.Count == 1 ? "it depends" : "they depend")} on {user}'s objects, {Sentences.Counted(dropped.Count, "object")} {user} may not drop: {string.Join(", ", dropped)}");
        }

        if (left.Count > 0)
        {
            parts.Add($"would leave {Sentences.Counted(left.Count, "object")} {user} may not drop: {string.Join(", ", left)}");
        }

        return CheckResult.Block(OtherRolesFinding, $"Emptying the target database {target.Database} {string.Join("; and ", parts)}.",
            $"Have {(blockers.Count == 1 ? "its owner drop it" : "their owners drop them")} or give {(blockers.Count == 1 ? "it" : "them")} to {user}, or restore into an empty database.") with
        {
            Details = blockers.Select(b => $"{b}: {(b.LeftBehind ? "would be left" : $"depends on {user}'s objects and would be dropped with them")}").ToList(),
        };
    }

    /// <summary>The name of the finding on the roles row-level security policies name.</summary>
    public const string PolicyRolesFinding = "policy roles";

    /// <summary>
    /// The one test and wording of "a policy names a role the target lacks", which the restore of that policy
    /// would fail on: blocking when <paramref name="targetRoles"/> lacks one; a warning when the target is not
    /// known (null). `check` shows it as a row; a restore or a copy without --roles refuses with it before anything
    /// is emptied.
    /// </summary>
    public static CheckResult PolicyRoles(IReadOnlyList<PolicyRole> policies, IReadOnlySet<string>? targetRoles)
    {
        ArgumentNullException.ThrowIfNull(policies);
        const string name = PolicyRolesFinding;
        if (policies.Count == 0)
        {
            return CheckResult.Ok(name, "No row-level security policy names a role.");
        }

        var details = policies.Select(p => p.ToString()).ToList();
        var missing = targetRoles is null ? [] : policies.Select(p => p.Role).Where(r => !targetRoles.Contains(r)).Distinct(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            var failing = policies.Where(p => missing.Contains(p.Role)).Select(p => p.ToString()).ToList();
            var (quoted, plain) = missing.Count == 1 ? (Db.Ident(missing[0]), missing[0]) : ("NAME", "NAME");
            return CheckResult.Block(name, $"{policies.Count} row-level security policies name roles, and the target lacks {string.Join(", ", missing)}: the restore would fail on those policies ({Sentences.FirstFew(failing, 5)}).",
                $"Create {(missing.Count == 1 ? "that role" : "those roles")} on the target first (CREATE ROLE {quoted} NOLOGIN, or on Heroku: heroku pg:credentials:create --name {plain}), or run with --roles, which creates the roles the database uses.") with { Details = details };
        }

        return targetRoles is null
            ? CheckResult.Warn(name, $"{policies.Count} row-level security policies name roles: {Sentences.FirstFew(details, 5)}.",
                "The target must have those roles before the restore, or it fails on those policies: run check with --target to know.") with { Details = details }
            : CheckResult.Ok(name, $"{policies.Count} row-level security policies name roles the target has.") with { Details = details };
    }

    /// <summary>The name of the finding on the target's lock table.</summary>
    public const string LockTableFinding = "lock table";

    /// <summary>
    /// Whether emptying the target fits one transaction of its lock table (<see cref="LockTable.Budget"/>): when it
    /// does not, it warns that the emptying commits in batches, so a stop halfway leaves the target partly emptied;
    /// and when one statement alone takes more than the whole table, that it would fail.
    /// </summary>
    private static async Task<CheckResult> LockTableAsync(NpgsqlConnection conn, bool replacing, CancellationToken cancellationToken)
    {
        var table = await LockTable.ReadAsync(conn, cancellationToken);
        var steps = replacing ? await EmptySteps.ReadAsync(conn, cancellationToken) : [];
        if (steps.Count == 0)
        {
            return CheckResult.Ok(LockTableFinding, $"The target's lock table holds {table}.");
        }

        var total = steps.Sum(s => s.Locks);
        var largest = steps.MaxBy(s => s.Locks)!;
        if (largest.Locks > table.Capacity)
        {
            return CheckResult.Warn(LockTableFinding,
                string.Create(CultureInfo.InvariantCulture, $"Dropping {largest.Name} alone takes about {largest.Locks:N0} locks, more than the target's lock table holds ({table}): emptying the target would fail (out of shared memory)."),
                $"Raise max_locks_per_transaction on the target, or drop {largest.Name} by hand in parts.");
        }

        return total <= table.Budget
            ? CheckResult.Ok(LockTableFinding, string.Create(CultureInfo.InvariantCulture, $"Emptying the target takes about {total:N0} locks: one transaction of its lock table ({table})."))
            : CheckResult.Warn(LockTableFinding,
                string.Create(CultureInfo.InvariantCulture, $"Emptying the target takes about {total:N0} locks, more than one transaction may take of its lock table ({table}): it is emptied in {TargetEmptying.Batches(steps, table.Budget).Count} transactions, so if it stops halfway the target is left partly emptied."),
                "Running the command again with --confirm empties the rest. To empty it in one transaction, raise max_locks_per_transaction.");
    }

    /// <summary>The name of the finding on the extensions needed, the same row `check` shows.</summary>
    public const string ExtensionsFinding = "extensions";

    /// <summary>The name of the finding on extensions the target has in another schema than the source.</summary>
    public const string ExtensionSchemasFinding = "extension schemas";

    /// <summary>
    /// Whether the login role finds every extension needed installed, or may create it. The one wording of
    /// "an extension cannot be created": `check` shows this row as it is, and a restore refuses with it.
    /// </summary>
    private static async Task<CheckResult> ExtensionsAsync(NpgsqlConnection conn, PgConnectionInfo target, TargetRequirements requirements, CancellationToken cancellationToken)
    {
        var needed = requirements.Extensions;
        var unusable = await Extensions.UnusableAsync(conn, needed, cancellationToken);
        var wanted = needed.Where(e => e != "plpgsql").Distinct(StringComparer.Ordinal).ToList();
        if (unusable.Count == 0)
        {
            return CheckResult.Ok(ExtensionsFinding, $"Installed on the target or creatable by its login role: {string.Join(", ", wanted)}.");
        }

        var missing = unusable.Where(u => !u.Offered).Select(u => u.Name).ToList();
        var superuser = unusable.Where(u => u.Offered).Select(u => u.Name).ToList();
        var found = new List<string>();
        var next = new List<string>();
        if (missing.Count > 0)
        {
            var them = missing.Count == 1 ? "it" : "them";
            found.Add($"missing on the target: {string.Join(", ", missing)}");
            next.Add($"ask the target's provider for {string.Join(", ", missing)} (or choose a plan that has {them}), or drop {them} on the source if unused");
        }

        if (superuser.Count > 0)
        {
            found.Add($"only a superuser may create on the target: {string.Join(", ", superuser)}");
            // A database still to create is a copy of template1: what the provider creates there, it will have.
            var where = requirements.DatabaseToCreate is { } created ? $"database template1 (the database {created} is created from it)" : $"database {target.Database}";
            next.Add($"ask the target's provider to run CREATE EXTENSION {string.Join(", ", superuser)} in {where} ({target.User} is not a superuser)");
        }

        var sentence = string.Join("; and ", next);
        return CheckResult.Block(ExtensionsFinding, $"Extensions the target's login role cannot get: {string.Join("; ", found)}.",
            char.ToUpperInvariant(sentence[0]) + sentence[1..] + ", then run again.") with
        {
            Details = unusable.Select(u => $"{u.Name}: {(u.Offered ? "only a superuser may create it" : "missing on the target")}").ToList(),
        };
    }

    /// <summary>Says the findings that warn without blocking (an extension in another schema), before anything changes.</summary>
    public void WarnAbout(IReporter reporter)
    {
        ArgumentNullException.ThrowIfNull(reporter);
        foreach (var warning in Findings.Where(f => f.Status == CheckStatus.Warn))
        {
            reporter.Warn($"{warning.Found} {warning.Next}");
        }
    }

    /// <summary>
    /// Phase two: empties the target of what the restore will make again and the login role may make again
    /// (EmptyPlan.sql), dependents first, in transactions that each fit the server's lock table
    /// (<see cref="TargetEmptying"/>). The provider's extensions, what belongs to any extension, and the schemas
    /// those live in survive. Before the first DROP it looks again, in the same transaction, for anything the
    /// DROPs would take or leave that the login role may not drop (<see cref="EmptyBlockers"/>), and refuses;
    /// each later transaction looks again at what its own DROPs would take. While it waits for another session's
    /// lock it says which (another role's session by its pid), and it gives up after
    /// <see cref="TargetRequirements.LockTimeout"/>. If it stops after a transaction was committed, the message
    /// says how much is dropped and which command empties the rest. Does nothing when the target is empty.
    /// </summary>
    /// <exception cref="UsageException">The target gained objects since the check, and no --confirm allows replacing them.</exception>
    /// <exception cref="PgRelocateException">Something could not be dropped or would be dropped with the login role's objects, or a lock was not granted in time; the message says whether anything was changed.</exception>
    public Task EmptyAsync(IReporter reporter, CancellationToken cancellationToken) =>
        new TargetEmptying(this, reporter).RunAsync(cancellationToken);

    /// <summary>
    /// Refuses when two connections reach the same database (<see cref="DatabaseIdentity"/>): for commands
    /// that take both before anything else runs.
    /// </summary>
    /// <exception cref="UsageException">They are the same database.</exception>
    public static async Task RefuseSameDatabaseAsync(PgConnectionInfo source, PgConnectionInfo target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var (sourceIdentity, targetIdentity) = await BothSides.ReadAsync(source, target, (info, role) => IdentityAsync(info, role, cancellationToken));
        if (SameDatabase(sourceIdentity, targetIdentity, target) is { } same)
        {
            throw new UsageException(Sentences.NothingWasChanged(same.Found, same.Next));
        }

        static async Task<DatabaseIdentity?> IdentityAsync(PgConnectionInfo info, string role, CancellationToken cancellationToken)
        {
            await using var conn = await Db.OpenAsync(info, role, SessionOptions.BuiltInTypes, cancellationToken);
            return await DatabaseIdentity.TryReadAsync(conn, cancellationToken);
        }
    }

    /// <summary>
    /// The one test of "the source is the target" and its one wording: a blocking finding when both
    /// identities are known and equal; null when they differ or either server will not say
    /// (pg_control_system() not granted).
    /// </summary>
    private static CheckResult? SameDatabase(DatabaseIdentity? source, DatabaseIdentity? target, PgConnectionInfo targetInfo) =>
        source is not null && source == target
            ? CheckResult.Block("same database", $"The source and the target are the same database ({targetInfo.Display}).",
                "Give the target's own URL: replacing the target would destroy the source.")
            : null;
}

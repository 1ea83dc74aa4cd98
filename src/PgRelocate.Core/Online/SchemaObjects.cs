using Npgsql;
using PgRelocate.Archives;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Runners;
using PgRelocate.Tools;

namespace PgRelocate.Online;

/// <summary>An object the pass could not make on the target as the source has it: what, why, and the SQL to run there.</summary>
internal sealed record SchemaObjectRefusal(string Object, string Reason, string Sql)
{
    public override string ToString() => $"{Object} ({Reason}; run on the target: {Sql.ReplaceLineEndings(" ").Trim().TrimEnd(';')})";
}

/// <summary>
/// The source's objects other than tables and their columns, made on the target as the source has them now:
/// indexes, constraints, views and materialized views, functions, triggers, types and enum values, sequences,
/// comments, and tables the source no longer has. None of these is in pgoutput's stream, so they are compared:
/// <c>pg_dump --schema-only</c> of both sides (the one runner, the tool's schema left out), their tables of contents
/// read by the archive reader and compared entry by entry (kind, schema, name and statement as pg_dump writes it).
/// What the target lacks is made from the source's statement, what differs is replaced (CREATE OR REPLACE where the
/// kind has it, else the target's DROP and the source's CREATE in one transaction; enum values added with ALTER
/// TYPE … ADD VALUE), and what the source no longer has is dropped. The provider's extensions and what belongs to
/// them never appear (pg_dump writes no extension member, and EXTENSION entries are left alone); tables and columns
/// are the stream's (<see cref="Apply.SchemaCarry"/>). Everything is made by the target's login role, as a restore
/// with --no-owner makes it.
/// Two passes. <see cref="Phase.Ahead"/>, while the source is still written (before the cutover makes it
/// read-only), makes what cannot change how the follow applies rows: indexes other than unique ones, views,
/// functions, types and enum values, sequences, comments. <see cref="Phase.Switch"/>, once the source is read-only
/// and every change is applied, makes the rest exactly: constraints (a unique, check or foreign key made ahead
/// could refuse a row the stream still brings), triggers (the follow disables the target's triggers, a new one
/// would fire on applied rows) and the tables the source dropped (a change to them may still be in the stream).
/// The switch's pass needs no pg_dump when the pass ahead left it nothing and neither side's schema changed since
/// (<see cref="SettledSchema"/>): one catalog query on each side in place of two pg_dump runs in the write downtime.
/// </summary>
internal static partial class SchemaObjects
{
    public enum Phase
    {
        Ahead,
        Switch,
    }

    /// <summary>What a pass did and what it could not do; <paramref name="Settled"/>, what the switch may rely on (null: nothing).</summary>
    internal sealed record Pass(IReadOnlyList<string> Applied, IReadOnlyList<SchemaObjectRefusal> Refused, SettledSchema? Settled = null);

    /// <summary>pg_dump's entries that are no object of this comparison: the database's own, grants, data, extensions, the stream's.</summary>
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES", "ACL", "DEFAULT ACL", "EXTENSION",
        "PUBLICATION", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "SUBSCRIPTION", "SUBSCRIPTION TABLE",
        "SEQUENCE SET", "TABLE DATA", "BLOBS", "BLOB", "BLOB METADATA", "LARGE OBJECT", "MATERIALIZED VIEW DATA",
        "TABLE ATTACH", "CHECK CONSTRAINT", "ROW SECURITY",
    };

    /// <summary>Kinds made ahead, while the source is written: nothing of them can refuse or fire on a row the stream applies.</summary>
    private static readonly HashSet<string> AheadKinds = new(StringComparer.Ordinal)
    {
        "INDEX", "INDEX ATTACH", "VIEW", "MATERIALIZED VIEW", "FUNCTION", "PROCEDURE", "AGGREGATE", "TYPE", "DOMAIN",
        "SEQUENCE", "SEQUENCE OWNED BY", "COMMENT", "SCHEMA", "COLLATION", "CAST", "OPERATOR", "OPERATOR CLASS",
        "OPERATOR FAMILY", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "CONVERSION", "DEFAULT",
    };

    /// <summary>Kinds whose statement can be run again as CREATE OR REPLACE, keeping what depends on them.</summary>
    private static readonly string[] Replaceable = ["VIEW", "FUNCTION", "PROCEDURE"];

    /// <summary>
    /// Compares both sides and makes the target's objects the source's, as far as <paramref name="phase"/> allows.
    /// At the switch, <paramref name="unchanged"/> (neither side's schema changed since the pass when the cutover was
    /// asked, which left nothing for the switch: see <see cref="SettledSchema.StillAsync"/>) spares the comparison by
    /// pg_dump and the enums' (its fingerprints cover them), and lends the pass its sessions.
    /// </summary>
    /// <param name="sourceName">What the pass's session on the source is called (see <see cref="SettledSchema.SourceSession"/>).</param>
    public static async Task<Pass> SyncAsync(PgBinaries binaries, PgConnectionInfo source, PgConnectionInfo target, Phase phase, SettledSchema? unchanged, string sourceName, IReporter reporter, CancellationToken cancellationToken)
    {
        // One session on each side for the whole pass: at the switch, each one more would be write downtime. Those
        // of a pass that leaves nothing for the switch stay open for it (see SettledSchema); lent ones stay their owner's.
        var conn = unchanged?.TargetSession ?? await Db.OpenAsync(target.WithApplicationName(SchemaObjectSession.ApplicationName), "target", cancellationToken);
        var s = unchanged?.SourceSession;
        SettledSchema? settled = null;
        try
        {
            s ??= await SchemaObjectSession.OpenSourceAsync(source, cancellationToken, sourceName);
            var pass = await SyncOnAsync(binaries, s, conn, source, target, phase, unchanged is not null, reporter, cancellationToken);
            settled = pass.Settled;
            return pass;
        }
        finally
        {
            if (unchanged is null && settled is null)
            {
                await conn.DisposeAsync();
                if (s is not null)
                {
                    await s.DisposeAsync();
                }
            }
        }
    }

    private static async Task<Pass> SyncOnAsync(PgBinaries binaries, NpgsqlConnection s, NpgsqlConnection conn, PgConnectionInfo source, PgConnectionInfo target, Phase phase, bool unchanged, IReporter reporter, CancellationToken cancellationToken)
    {
        var sourceMajor = s.PostgreSqlVersion.Major;
        // Ahead, the source's read before the dumps (for the switch to rely on): a change after it, even one the dumps
        // see, makes the switch compare in full.
        var sourceSchema = phase == Phase.Ahead ? await SchemaFingerprint.ReadAsync(s, cancellationToken) : null;

        if (unchanged)
        {
            reporter.Info("Neither side's schema changed since the pass when the cutover was asked, which left nothing for the switch: its objects are compared without pg_dump.");
        }

        var folder = Interrupts.TempFolder("pgrelocate-objects-").FullName;
        try
        {
            var dumps = unchanged ? null : await DumpBothAsync(binaries, source, target, Math.Max(sourceMajor, conn.PostgreSqlVersion.Major), folder, reporter, cancellationToken);
            await using var session = new SchemaObjectSession(conn, reporter);
            if (!unchanged)
            {
                // A lent session was prepared by the pass that opened it.
                await session.PrepareAsync(cancellationToken);
            }

            foreach (var step in dumps is { } d ? Plan(d.Source, d.Target, phase) : [])
            {
                await session.RunAsync(step, cancellationToken);
            }

            if (!unchanged)
            {
                // Unchanged, the enums are as the pass when the cutover was asked left them: the fingerprints cover pg_enum.
                await session.EnumsAsync(s, cancellationToken);
            }

            if (phase == Phase.Switch)
            {
                await session.ChecksAsync(s, cancellationToken);
                await session.RefreshAsync(s, cancellationToken);
            }

            // Nothing left for the switch: every change of every kind made now, a trigger the follow disabled taken as the
            // switch enables it again (only where that gives the plain enabled mode: the target is not touched for this).
            var left = dumps is { } both && phase == Phase.Ahead && session.Refused.Count == 0
                && !HasNewTables(both.Source, both.Target)
                && Plan(both.Source, both.Target, Phase.Switch, followDisabledTriggers: true).All(s => session.Applied.Contains(s.Object))
                && await TargetState.TriggersComeBackPlainAsync(conn, cancellationToken);
            return new Pass(session.Applied, session.Refused, left ? await SettledSchema.SettleAsync(s, conn, sourceSchema!, cancellationToken) : null);
        }
        finally
        {
            Interrupts.DeleteTempFolder(folder);
        }
    }

    /// <summary>
    /// Both sides' <c>pg_dump --schema-only</c>; null where pg_dump cannot compare them (none here for the newer
    /// server's version, a target whose lock table cannot hold every table at once), with a warning that says so and
    /// what to compare by hand: the tables, their rows and columns do not depend on it, and the enum values and check
    /// constraints are compared by catalog.
    /// </summary>
    private static async Task<(ArchiveContents Source, ArchiveContents Target)?> DumpBothAsync(PgBinaries binaries, PgConnectionInfo source, PgConnectionInfo target, int newerMajor, string folder, IReporter reporter, CancellationToken cancellationToken)
    {
        try
        {
            var pgDump = binaries.PgDumpFor(newerMajor);
            var dumps = await Task.WhenAll(
                DumpAsync(pgDump, source, Path.Combine(folder, "source.dump"), "the source's schema", reporter, cancellationToken),
                DumpAsync(pgDump, target, Path.Combine(folder, "target.dump"), "the target's schema", reporter, cancellationToken));
            return (dumps[0], dumps[1]);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Failures.Operational(e) is { } failure)
        {
            reporter.Warn($"Indexes, constraints, views, functions, triggers and types made on the source while following were not compared ({failure.Message.TrimEnd('.')}): compare both sides with pg_dump --schema-only before the applications switch.");
            return null;
        }
    }

    /// <summary>
    /// The pass the follow runs before it asks the source to become read-only: what it made is logged, and a refusal
    /// is returned as the sentence the cutover is refused with (null: nothing refused).
    /// </summary>
    public static async Task<string?> BeforeSwitchAsync(Migration.MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        if (!options.CarrySchemaChanges)
        {
            return null;
        }

        var pass = await SyncAsync(context.Binaries, options.Source, options.Into.Connection, Phase.Ahead, unchanged: null, SettledSchema.SourceName(context), context.Reporter, cancellationToken);
        Report(pass, context.Reporter);
        // A pass asked again (the last cutover was refused) replaces what the last one settled.
        await using (context.TakeHandOff<SettledSchema>())
        {
        }

        if (pass.Settled is { } settled)
        {
            context.HandOff(settled);
        }

        return pass.Refused.Count == 0 ? null : Refusal(pass.Refused, "the cutover waits; the follow goes on: ask again once it is done (an automatic cutover tries again by itself)");
    }

    /// <summary>The pass of the switch, with the source read-only and every change applied: a refusal fails the cutover, the source made writable again.</summary>
    /// <exception cref="PgRelocateException">An object could not be made on the target.</exception>
    /// <param name="unchanged">What <see cref="SettledSchema.StillAsync"/> found (null: a change): the objects are compared without pg_dump, on its sessions.</param>
    public static async Task AtSwitchAsync(Migration.MigrationContext context, SettledSchema? unchanged, CancellationToken cancellationToken)
    {
        var options = context.Options;
        if (!options.CarrySchemaChanges)
        {
            return;
        }

        var pass = await SyncAsync(context.Binaries, options.Source, options.Into.Connection, Phase.Switch, unchanged, SettledSchema.SourceName(context), context.Reporter, cancellationToken);
        Report(pass, context.Reporter);
        if (pass.Refused.Count > 0)
        {
            throw new PgRelocateException(Refusal(pass.Refused, $"nothing is switched and the source is made writable again: run it, then 'pgrelocate migrate --resume {context.Journal.Id}'") + ".", ExitCode.Failed);
        }
    }

    /// <summary>
    /// When the target refused a row because its enum lacks a value the source added while following: adds to the
    /// target's enums the values the source's have gained, and says whether it added any (the follow then applies
    /// again from its stored position). Adding a value changes nothing for the rows before it, so doing it ahead of
    /// the stream's order is safe; each retry adds a value, so they end.
    /// </summary>
    public static async Task<bool> AddedEnumValuesAsync(Exception failure, PgConnectionInfo source, PgConnectionInfo target, IReporter reporter, CancellationToken cancellationToken)
    {
        var missing = false;
        for (var x = failure; x is not null; x = x.InnerException)
        {
            missing |= x is PostgresException { SqlState: PostgresErrorCodes.InvalidTextRepresentation } p && p.MessageText.StartsWith("invalid input value for enum ", StringComparison.Ordinal);
        }

        if (!missing || cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        await using var conn = await Db.OpenAsync(target.WithApplicationName(SchemaObjectSession.ApplicationName), "target", cancellationToken);
        await using var s = await SchemaObjectSession.OpenSourceAsync(source, cancellationToken);
        await using var session = new SchemaObjectSession(conn, reporter);
        await session.PrepareAsync(cancellationToken);
        await session.EnumsAsync(s, cancellationToken);
        Report(new Pass(session.Applied, session.Refused), reporter);
        return session.Applied.Count > 0;
    }

    private static void Report(Pass pass, IReporter reporter)
    {
        if (pass.Applied.Count > 0)
        {
            reporter.Info($"Schema objects carried to the target: {string.Join(", ", pass.Applied)}.");
        }
    }

    private static string Refusal(IReadOnlyList<SchemaObjectRefusal> refused, string then) =>
        $"The target cannot take {Sentences.Plural(refused.Count, "this change", "these changes")} of the source's schema: {string.Join("; ", refused)}; {then}";

    private static async Task<ArchiveContents> DumpAsync(PgTool pgDump, PgConnectionInfo db, string path, string what, IReporter reporter, CancellationToken cancellationToken)
    {
        await new PgDump(pgDump, db, reporter).RunAsync(
            ["--schema-only", "--no-publications", "--no-subscriptions", "--exclude-schema=" + ToolSchema.Name, "--file=" + path],
            null,
            null,
            what,
            cancellationToken);
        return ArchiveContents.Read(path);
    }

    /// <summary>One change to the target: the statements of one transaction (or none), and what it is, for the log and a refusal.</summary>
    /// <param name="Later">A drop ahead of the switch: one that fails (something the switch drops first still uses it) is left to the switch, not refused.</param>
    internal sealed record Step(string Object, IReadOnlyList<string> Statements, IReadOnlyList<string>? Instead = null, bool Later = false);

    /// <summary>
    /// The changes, in an order that works: the dropped objects first (the target's dependents first: the reverse of
    /// its archive's order), then what is made or replaced in the source's archive order.
    /// </summary>
    /// <param name="followDisabledTriggers">A target trigger the follow disabled counts as the source's enabled one (<see cref="Alike"/>).</param>
    internal static List<Step> Plan(ArchiveContents source, ArchiveContents target, Phase phase, bool followDisabledTriggers = false)
    {
        var theirs = Index(source);
        var ours = Index(target);
        var extensionSchemas = target.ExtensionSchemas.Select(e => e.Schema).Concat(source.ExtensionSchemas.Select(e => e.Schema)).ToHashSet(StringComparer.Ordinal);
        // A table the target lacks is the stream's to make (SchemaCarry), with what belongs to it.
        var newTables = NewTables(source, ours);
        var owned = source.Entries.Where(e => e.Kind == "SEQUENCE OWNED BY" && e.Dependencies.Any(newTables.Contains)).SelectMany(e => e.Dependencies).ToHashSet();
        bool Stream(ArchiveEntry e) => e.Kind == "TABLE" || e.Dependencies.Any(newTables.Contains) || (e.Kind == "SEQUENCE" && owned.Contains(e.Id));
        bool Now(ArchiveEntry e) => phase == Phase.Switch || (AheadKinds.Contains(e.Kind) && !Unique(e));

        // The sequences a table the source dropped owns go with it (an identity's cannot be dropped alone), and its own
        // constraints, indexes, triggers and defaults (a partition's inherited key or index cannot be dropped alone).
        var goneTables = target.Entries.Where(e => e.Kind == "TABLE" && !theirs.ContainsKey(Key(e))).Select(e => e.Id).ToHashSet();
        var goneOwned = target.Entries.Where(e => e.Kind == "SEQUENCE OWNED BY" && e.Dependencies.Any(goneTables.Contains)).SelectMany(e => e.Dependencies).ToHashSet();
        bool WithTable(ArchiveEntry e) => (e.Kind is "SEQUENCE" or "SEQUENCE OWNED BY" && (e.Dependencies.Any(goneTables.Contains) || goneOwned.Contains(e.Id)))
                                          || (e.Kind is "CONSTRAINT" or "INDEX" or "TRIGGER" or "DEFAULT" && e.Dependencies.Any(goneTables.Contains));

        var steps = new List<Step>();
        foreach (var e in target.Entries.Where(Considered).Reverse())
        {
            if (theirs.ContainsKey(Key(e)) || !Now(e) || WithTable(e) || (e.Kind == "SCHEMA" && (extensionSchemas.Contains(e.Tag) || phase == Phase.Ahead)))
            {
                continue;
            }

            if (e.Kind == "COMMENT")
            {
                steps.Add(new Step(e.ToString(), [UnComment(e.Definition)]));
            }
            else if (!string.IsNullOrWhiteSpace(e.DropStatement) && e.Kind != "INDEX ATTACH")
            {
                steps.Add(new Step(Dropped(e), [e.DropStatement], Later: phase == Phase.Ahead));
            }
        }

        foreach (var e in source.Entries.Where(Considered))
        {
            if (Stream(e) || !Now(e))
            {
                continue;
            }

            if (!ours.TryGetValue(Key(e), out var mine))
            {
                steps.Add(new Step(e.ToString(), [e.Definition]));
            }
            else if (!Alike(e, mine, followDisabledTriggers) && !(e.Kind == "TYPE" && IsEnum(e) && IsEnum(mine)))
            {
                steps.Add(Replaced(e, mine));
            }
        }

        // pg_dump's public schema, which initdb makes, comes as comments only ("-- *not* creating schema, since initdb
        // creates it") where its owner is not the default one (a provider's login role often owns it on the target): a
        // step that runs nothing is no difference, else every pass would leave it for the switch, which then compares
        // both schemas with pg_dump inside the write downtime.
        return [.. steps.Where(step => step.Statements.Concat(step.Instead ?? []).Any(IsStatement))];
    }

    /// <summary>Whether pg_dump's text holds a statement, not only comments.</summary>
    private static bool IsStatement(string sql) =>
        sql.Split('\n').Any(line => line.Trim() is { Length: > 0 } text && !text.StartsWith("--", StringComparison.Ordinal));

    /// <summary>The source's tables the target lacks (their entries' ids): the stream's to make.</summary>
    private static HashSet<int> NewTables(ArchiveContents source, Dictionary<string, ArchiveEntry> ours) =>
        source.Entries.Where(e => e.Kind == "TABLE" && !ours.ContainsKey(Key(e))).Select(e => e.Id).ToHashSet();

    private static bool HasNewTables(ArchiveContents source, ArchiveContents target) => NewTables(source, Index(target)).Count > 0;

    private static bool Considered(ArchiveEntry e) =>
        !Ignored.Contains(e.Kind) && e.Section != ArchiveSection.Data && !(e.Kind == "COMMENT" && e.Tag.StartsWith("EXTENSION ", StringComparison.Ordinal));

    private static string Key(ArchiveEntry e) => $"{e.Kind}\0{e.Schema}\0{e.Tag}";

    private static Dictionary<string, ArchiveEntry> Index(ArchiveContents archive) =>
        archive.Entries.Where(Considered).GroupBy(Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

    private static string Same(string definition) => definition.Trim();

    /// <summary>
    /// Whether the target's entry is the source's. With <paramref name="followDisabledTriggers"/>, a target trigger whose
    /// definition is the source's plainly enabled one followed by pg_dump's <c>ALTER TABLE … DISABLE TRIGGER …;</c> (the
    /// follow disabled it) is the source's too: the switch enables it again. A source trigger in any other mode is not.
    /// </summary>
    private static bool Alike(ArchiveEntry theirs, ArchiveEntry mine, bool followDisabledTriggers)
    {
        var (source, target) = (Same(theirs.Definition), Same(mine.Definition));
        if (!followDisabledTriggers || theirs.Kind != "TRIGGER")
        {
            return source == target;
        }

        // A source trigger in another mode than plainly enabled is never alike: the target's is the follow's disabling,
        // which the switch undoes.
        return !source.Contains("\nALTER TABLE ", StringComparison.Ordinal)
            && (source == target || (target.StartsWith(source, StringComparison.Ordinal) && DisabledByFollow().IsMatch(target[source.Length..].Trim())));
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^ALTER TABLE (ONLY )?[^\n]+ DISABLE TRIGGER [^\n]+;$")]
    private static partial System.Text.RegularExpressions.Regex DisabledByFollow();

    private static bool Unique(ArchiveEntry e) => e.Kind == "INDEX" && e.Definition.StartsWith("CREATE UNIQUE ", StringComparison.Ordinal);

    private static bool IsEnum(ArchiveEntry e) => e.Definition.Contains(" AS ENUM (", StringComparison.Ordinal);

    private static string Dropped(ArchiveEntry e) => $"{e} (dropped on the source)";

    /// <summary>The source's statement in place of the target's: CREATE OR REPLACE where the kind has it, else the target's DROP first.</summary>
    private static Step Replaced(ArchiveEntry e, ArchiveEntry mine)
    {
        var what = $"{e} (changed on the source)";
        var create = e.Definition;
        if (e.Kind is "COMMENT" or "DEFAULT" or "SEQUENCE OWNED BY")
        {
            return new Step(what, [create]);
        }

        if (e.Kind == "SEQUENCE" && create.StartsWith("CREATE SEQUENCE ", StringComparison.Ordinal))
        {
            return new Step(what, ["ALTER SEQUENCE " + create["CREATE SEQUENCE ".Length..]]);
        }

        List<string> dropAndCreate = string.IsNullOrWhiteSpace(mine.DropStatement) ? [create] : [mine.DropStatement, create];
        if (Replaceable.Contains(e.Kind) && Array.Exists(["CREATE VIEW ", "CREATE FUNCTION ", "CREATE PROCEDURE "], p => create.StartsWith(p, StringComparison.Ordinal)))
        {
            return new Step(what, ["CREATE OR REPLACE " + create["CREATE ".Length..]], dropAndCreate);
        }

        return new Step(what, dropAndCreate);
    }

    /// <summary>"COMMENT ON TABLE s.t IS '…';" as "COMMENT ON TABLE s.t IS NULL;".</summary>
    private static string UnComment(string definition)
    {
        var at = definition.LastIndexOf(" IS ", StringComparison.Ordinal);
        for (var i = definition.IndexOf(" IS ", StringComparison.Ordinal); i >= 0; i = definition.IndexOf(" IS ", i + 1, StringComparison.Ordinal))
        {
            // The first " IS " followed by the literal: names come before it.
            var rest = definition[(i + 4)..].TrimStart();
            if (rest.StartsWith('\'') || rest.StartsWith("E'", StringComparison.Ordinal))
            {
                at = i;
                break;
            }
        }

        return definition[..at] + " IS NULL;";
    }
}

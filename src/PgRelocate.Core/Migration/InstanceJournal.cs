namespace PgRelocate.Migration;

/// <summary>
/// How an instance migration (<c>migrate --databases a,b</c>, <c>--all-databases</c>) is journaled: a parent
/// journal, whose source and target are the servers, with a step "check" (every database's checks), "roles"
/// (created once for all) and one step "database NAME" per database; and a child migration per database, an
/// ordinary journal whose options name its parent. The parent's step of a database names its child
/// (<see cref="Child"/>).
/// </summary>
public static class InstanceJournal
{
    /// <summary>The parent's option listing its databases, one a line.</summary>
    public const string DatabasesKey = "databases";

    /// <summary>The parent's option recording --confirm-all.</summary>
    public const string ConfirmAllKey = "confirmAll";

    /// <summary>A child's option naming its parent.</summary>
    public const string ParentKey = "parent";

    /// <summary>The output of a parent's database step naming the child migration (its id).</summary>
    public static readonly JournalKey<string> Child = JournalKey.Text("migration");

    /// <summary>The output of a parent's database step saying the migration created the database on the target (what was created).</summary>
    public static readonly JournalKey<string> Created = JournalKey.Text("created");

    public const string CheckStep = "check";

    public const string RolesStep = "roles";

    public static string DatabaseStep(string database) => "database " + database;

    public static bool IsParent(MigrationJournal journal) => journal.Options.ContainsKey(DatabasesKey);

    /// <summary>The parent migration's id of a child migration; null for any other.</summary>
    public static string? ParentOf(MigrationJournal journal) => journal.Options.GetValueOrDefault(ParentKey) is { Length: > 0 } id ? id : null;

    public static IReadOnlyList<string> Databases(MigrationJournal parent) =>
        (parent.Options.GetValueOrDefault(DatabasesKey) ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The parent's databases with their child migrations' journals, in order.</summary>
    public static IReadOnlyList<(string Database, MigrationJournal Child)> Children(MigrationJournal parent)
    {
        ArgumentNullException.ThrowIfNull(parent);
        var workDir = Path.GetDirectoryName(parent.Folder)!;
        return Databases(parent).Select(d => (d, MigrationJournal.Load(workDir, parent.Step(DatabaseStep(d)).Get(Child)!))).ToList();
    }

    /// <summary>
    /// Writes the parent journal and a child journal per database, all pending: <paramref name="options"/> are the
    /// servers' (any database on each), recorded with the <paramref name="report"/>'s path; each child's are the same
    /// with its database on both sides, and its steps <paramref name="steps"/>.
    /// </summary>
    public static MigrationJournal Create(string workDir, MigrationOptions options, IReadOnlyList<string> databases, bool confirmAll, string? report, IReadOnlyList<IMigrationStep> steps)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(databases);
        ArgumentNullException.ThrowIfNull(steps);
        var id = MigrationJournal.NewId();
        var recorded = MigrationJournal.Recorded(options, report);
        recorded[DatabasesKey] = string.Join("\n", databases);
        recorded[ConfirmAllKey] = confirmAll.ToString();
        var parent = MigrationJournal.Create(workDir, id, options.Source.ToString(), options.Into.Connection.ToString(), [CheckStep, RolesStep, .. databases.Select(DatabaseStep)], recorded);
        for (var i = 0; i < databases.Count; i++)
        {
            var child = ChildOptions(options, databases[i]);
            var childRecorded = child.ToJournal();
            childRecorded[ParentKey] = id;
            var journal = MigrationJournal.Create(workDir, $"{id}-{i + 1}", child.Source.ToString(), child.Into.Connection.ToString(), steps.Select(s => s.Name), childRecorded);
            parent.Step(DatabaseStep(databases[i])).Set(Child, journal.Id);
        }

        parent.Save();
        return parent;
    }

    /// <summary>
    /// The options of one database's migration: the instance's, with that database on both sides, confirmed by the
    /// instance's checks; --via names a folder (a key prefix), each database's archive DATABASE.dump in it. Online,
    /// a database never switches on its own: the instance switches them together (--cutover auto included).
    /// </summary>
    public static MigrationOptions ChildOptions(MigrationOptions options, string database)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with
        {
            Source = options.Source.WithDatabase(database),
            Into = options.Into with { Connection = options.Into.Connection.WithDatabase(database), Confirm = database },
            Via = options.Via is { } via ? via.TrimEnd('/') + "/" + database + ".dump" : null,
            AutoCutover = false,
        };
    }
}

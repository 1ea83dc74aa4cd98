using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// What is left for the people doing the cutover: the new DATABASE_URL, the applications to repoint, and the
/// steps no tool can take for them.
/// </summary>
public sealed class CutoverStep : IMigrationStep
{
    public const string StepName = "cutover summary";

    /// <summary>The target's URL for the applications, without its password.</summary>
    public static readonly JournalKey<string> DatabaseUrl = JournalKey.Text("databaseUrl");

    /// <summary>The script of roles and grants left to run on the target by hand (its path).</summary>
    public static readonly JournalKey<string> Grants = JournalKey.Text("grants");

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        context.Record.Set(DatabaseUrl, options.Into.Connection.ToUrl(showPassword: false));

        // The applications seen before the source was made read-only (its step ended their sessions), else now.
        var seen = context.Journal.Steps.SelectMany(s => s.Tables).FirstOrDefault(t => t.Title == "Applications connected to the source");
        if (seen is null)
        {
            await using var conn = await Db.OpenAsync(options.Source, "source", cancellationToken);
            seen = Steps.ReadOnlySourceStep.ApplicationsTable(await ConnectedApplications.ReadAsync(conn, cancellationToken));
        }

        context.Record.Tables.Add(seen with { Title = "Applications to repoint" });
        var roles = await WriteGrantScriptAsync(context, cancellationToken);
        var todo = new List<IReadOnlyList<string>>
        {
            new[] { "Set DATABASE_URL of every application above to the new database (pgrelocate prints it with --show-secrets)." },
            new[] { roles },
            new[] { "Reapply the settings the settings step lists, if not applied with --apply-settings." },
            new[] { options.ReadOnlySource && options.KeepReadOnly ? "The source stays read-only: retire it once the applications use the target." : "Stop writes to the source before switching, or writes made after the dump are lost." },
            new[] { "Take the applications out of maintenance mode and watch their error rates." },
        };
        context.Record.Tables.Add(new ReportTable("Left to do by hand", ["step"], todo));
        context.Record.Summary = $"target ready at {options.Into.Connection.Display}; {seen.Rows.Count} application {Sentences.Plural(seen.Rows.Count, "group")} to repoint";
    }

    /// <summary>
    /// The roles, grants, default privileges and policy roles of the source that the restore did not carry, as a
    /// script to run on the target (grants.sql in the migration's folder); the step to do by hand says what it holds.
    /// </summary>
    private static async Task<string> WriteGrantScriptAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        if (context.Options.Roles)
        {
            const string carried = "Roles, owners and grants were carried (--roles): give a password to each role the roles step created without one (ALTER ROLE NAME PASSWORD ...).";
            var left = await PredefinedLeftAsync(context, cancellationToken);
            if (left.Count == 0)
            {
                return carried;
            }

            var script = Path.Combine(context.Folder, GrantScriptFile);
            await File.WriteAllLinesAsync(script, left, cancellationToken);
            context.Record.Set(Grants, script);
            return $"{carried} {script} holds the memberships in predefined roles the roles step could not give: run it as a superuser.";
        }

        DatabaseAccess access;
        // Both reads are of names, flags and text arrays: sessions that read built-in types only.
        await using (var source = await Db.OpenAsync(context.Options.Source, "source", SessionOptions.BuiltInTypes, cancellationToken))
        {
            access = await DatabaseAccess.ReadAsync(source, cancellationToken);
        }

        if (access.IsEmpty && access.Roles.Count == 0)
        {
            return "Roles and grants: the source grants nothing beyond the owner's, so there is nothing to reapply.";
        }

        GrantTarget target;
        await using (var conn = await Db.OpenAsync(context.Options.Into.Connection, "target", SessionOptions.BuiltInTypes, cancellationToken))
        {
            target = await GrantTarget.ReadAsync(conn, cancellationToken);
        }

        var path = Path.Combine(context.Folder, GrantScriptFile);
        await File.WriteAllLinesAsync(path, GrantScript.Render(access, target), cancellationToken);
        context.Record.Set(Grants, path);
        var grants = access.Privileges.Count(p => !p.IsDefault);
        var defaults = access.Privileges.Count(p => p.IsDefault);
        return $"Reapply roles and grants: roles are not migrated. {path} holds {Sentences.Counted(access.Roles.Count, "role")}, {Sentences.Counted(grants, "grant")}, {Sentences.Counted(defaults, "default privilege")} and {Sentences.Counted(access.PolicyRoles.Count, "policy role")} as a script to run on the target{(target.CanCreateRoles ? "" : $" ({target.LoginRole} may not create roles: it says which credentials to create)")}.";
    }

    /// <summary>With --roles: the memberships in predefined roles the source's roles have and the target's lack (<see cref="GrantScript.RenderPredefined"/>).</summary>
    private static async Task<List<string>> PredefinedLeftAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        await using var source = await Db.OpenAsync(context.Options.Source, "source", SessionOptions.BuiltInTypes, cancellationToken);
        await using var target = await Db.OpenAsync(context.Options.Into.Connection, "target", SessionOptions.BuiltInTypes, cancellationToken);
        var access = await DatabaseAccess.ReadAsync(source, cancellationToken);
        var rights = await RoleRights.ReadAsync(target, cancellationToken);
        var map = RoleMap.For(context.Options.RoleRenames, access.LoginRole, rights.LoginRole);
        return GrantScript.RenderPredefined(access, map, await DatabaseAccess.ReadRolesAsync(target, cancellationToken));
    }

    /// <summary>The script of roles and grants to reapply, in the migration's folder.</summary>
    public const string GrantScriptFile = "grants.sql";
}

using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Catalog;

/// <summary>A user table whose rows row-level security would hide, some or all, from the login role.</summary>
/// <param name="Forced">FORCE ROW LEVEL SECURITY: its owner is held to the policies too.</param>
/// <param name="Owned">The login role owns it (or is a member of its owner).</param>
/// <param name="Policies">How many policies it has: none lets no row through.</param>
public sealed record RowSecuredTable(string Schema, string Name, bool Forced, bool Owned, long Policies)
{
    public override string ToString() =>
        $"{Schema}.{Name} ({(Forced && Owned ? "FORCE ROW LEVEL SECURITY" : Policies == 0 ? "no policy: no rows" : Sentences.Counted(Policies, "policy", "policies"))})";

    /// <summary>The statement that lets its owner, the login role, read every row again (undone with FORCE after the migration).</summary>
    public string NoForce => $"ALTER TABLE {Db.Qualified(Schema, Name)} NO FORCE ROW LEVEL SECURITY;";
}

/// <summary>
/// Whether the source's login role reads every row pg_dump or the copy would read: tables and sequences it may
/// not read at all, and tables row-level security hides rows of. One finding for check (a blocker) and for
/// dump, copy and migrate (a refusal before anything is touched), so they never disagree.
/// </summary>
public sealed record SourceReadability(IReadOnlyList<UnreadableRelation> Unreadable, IReadOnlyList<RowSecuredTable> RowSecured)
{
    public bool Whole => Unreadable.Count == 0 && RowSecured.Count == 0;

    public static async Task<SourceReadability> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        new(await UserTables.UnreadableAsync(conn, cancellationToken),
            await Db.ListAsync(conn, CatalogSql.Load("RowSecurityTables.sql"),
                r => new RowSecuredTable(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetBoolean(3), r.GetInt64(4)), cancellationToken));

    /// <summary>What was found, in one or two sentences; null when the role reads everything.</summary>
    public string? Found(string role)
    {
        var parts = new List<string>();
        if (Unreadable.Count > 0)
        {
            parts.Add($"{role} may not read {Unreadable.Count} tables or sequences: {Sentences.FirstFew(Unreadable.Select(u => u.ToString()).ToList(), 5)}; the dump would stop there.");
        }

        if (RowSecured.Count > 0)
        {
            parts.Add($"row-level security hides rows of {RowSecured.Count} tables from {role}: {Sentences.FirstFew(RowSecured.Select(t => t.ToString()).ToList(), 5)}; a dump would stop there and a copy would miss rows.");
        }

        return parts.Count == 0 ? null : string.Join(" ", parts);
    }

    /// <summary>What to do about it, in one sentence.</summary>
    public string Next(string role)
    {
        var steps = new List<string>();
        if (Unreadable.Count > 0)
        {
            var owner = Unreadable.Count == 1 ? "its owner" : "their owners";
            steps.Add($"Run as {owner} (or a superuser): {Unreadable[0].GrantFor(role)}{(Unreadable.Count > 1 ? " and the same for the others (listed)" : "")}, or dump as a role that may read them.");
        }

        if (RowSecured.Count > 0)
        {
            var forced = RowSecured.Where(t => t.Forced && t.Owned).ToList();
            var noForce = forced.Count == 0 ? "" : $"run {forced[0].NoForce}{(forced.Count > 1 ? " and the same for the others (listed)" : "")} for the migration (FORCE it again after), or ";
            steps.Add($"To read every row, {noForce}migrate as a role with BYPASSRLS (as a superuser: ALTER ROLE {Db.Ident(role)} BYPASSRLS;){(RowSecured.Count > forced.Count ? " or as the tables' owner" : "")}.");
        }

        return string.Join(" ", steps);
    }

    /// <summary>One statement per line for a report's details.</summary>
    public IReadOnlyList<string> Details(string role) =>
    [
        .. Unreadable.Select(u => u.GrantFor(role)),
        .. RowSecured.Select(t => t.Forced && t.Owned ? t.NoForce : $"{t.Schema}.{t.Name}: ALTER ROLE {Db.Ident(role)} BYPASSRLS;"),
    ];

    /// <summary>
    /// Refuses to dump or copy a source whose login role would not read every row: pg_dump would stop partway,
    /// and a copy would hold fewer rows than the source. Called before anything is written.
    /// </summary>
    /// <exception cref="PgRelocateException">It would not; with <paramref name="exitCode"/> (1 by default).</exception>
    public static async Task RefuseUnlessWholeAsync(PgConnectionInfo source, CancellationToken cancellationToken, ExitCode exitCode = ExitCode.Failed)
    {
        ArgumentNullException.ThrowIfNull(source);
        await using var conn = await Db.OpenAsync(source, "source", SessionOptions.BuiltInTypes, cancellationToken);
        await RefuseUnlessWholeAsync(conn, cancellationToken, exitCode);
    }

    /// <inheritdoc cref="RefuseUnlessWholeAsync(PgConnectionInfo, CancellationToken, ExitCode)"/>
    /// <param name="conn">A session of the source, as its login role.</param>
    public static async Task RefuseUnlessWholeAsync(NpgsqlConnection conn, CancellationToken cancellationToken, ExitCode exitCode = ExitCode.Failed)
    {
        ArgumentNullException.ThrowIfNull(conn);
        var role = await Db.ScalarAsync<string>(conn, "SELECT current_user::text", cancellationToken) ?? conn.UserName ?? "";
        var found = await ReadAsync(conn, cancellationToken);
        found.RefuseUnlessWhole(role, exitCode);
    }

    /// <summary>The refusal of <see cref="RefuseUnlessWholeAsync"/> for what was found already, as <paramref name="role"/>.</summary>
    /// <exception cref="PgRelocateException">Not every row can be read; with <paramref name="exitCode"/> (1 by default).</exception>
    public void RefuseUnlessWhole(string role, ExitCode exitCode = ExitCode.Failed)
    {
        if (Found(role) is { } what)
        {
            throw new PgRelocateException(Sentences.NothingWasChanged($"Not every row of the source can be read: {what}", Next(role)), exitCode);
        }
    }
}

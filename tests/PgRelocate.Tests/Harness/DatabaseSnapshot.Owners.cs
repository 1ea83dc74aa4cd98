using System.Text.RegularExpressions;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Harness;

public static partial class DatabaseSnapshot
{
    /// <summary>
    /// Asserts that <c>pg_dump --schema-only</c> of both databases, owners and privileges included, says the same,
    /// line by line (sorted: an ACL's items may come in another order), read by one pg_dump: each side's login
    /// role written LOGIN, and the source's roles renamed as <paramref name="renames"/> says (--map-role).
    /// The catalogs' owners and ACLs are compared too (alone where no pg_dump here dumps both servers). Returns the
    /// lines compared: the catalogs', and pg_dump's or null.
    /// </summary>
    public static async Task<(List<string> Catalog, List<string>? Dump)> AssertSameOwnersAndPrivilegesAsync(PgConnectionInfo source, PgConnectionInfo target, IReadOnlyDictionary<string, string>? renames = null)
    {
        var all = new Dictionary<string, string>(renames ?? new Dictionary<string, string>(), StringComparer.Ordinal) { [source.User] = "LOGIN" };
        var catalog = await AclLinesAsync(source, all);
        await AssertSameLinesAsync("The catalogs' owners and ACLs", catalog, await AclLinesAsync(target, new Dictionary<string, string> { [target.User] = "LOGIN" }));
        if (PgDump(Math.Max(await ServerMajorAsync(source), await ServerMajorAsync(target))) is not { } pgDump)
        {
            return (catalog, null);
        }

        var expected = Lines(await DumpAsync(pgDump, source, ["--schema-only"]), all);
        var actual = Lines(await DumpAsync(pgDump, target, ["--schema-only"]), new Dictionary<string, string> { [target.User] = "LOGIN" });
        await AssertSameLinesAsync("pg_dump", expected, actual);
        return (catalog, expected);
    }

    private static Task AssertSameLinesAsync(string what, List<string> expected, List<string> actual)
    {
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Xunit.Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{what} differ.\nOnly on the source:\n  {string.Join("\n  ", missing)}\nOnly on the target:\n  {string.Join("\n  ", extra)}");
        Xunit.Assert.Equal(expected, actual);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Every owner and ACL of the database's own schemas, relations, columns, routines, types, large objects and
    /// default privileges, read from the catalogs (for servers no pg_dump here dumps both of), ACL items sorted.
    /// </summary>
    private static async Task<List<string>> AclLinesAsync(PgConnectionInfo db, IReadOnlyDictionary<string, string> renames)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        var lines = await Db.ListAsync(conn, """
            WITH s AS (SELECT oid, nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname !~ '^pg_(toast|temp)')
            SELECT 'schema ' || s.nspname || ' owner ' || pg_get_userbyid(n.nspowner) || ' acl ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(n.nspacl) a), '')
            FROM s JOIN pg_namespace n ON n.oid = s.oid
            UNION ALL
            SELECT 'relation ' || s.nspname || '.' || c.relname || ' owner ' || pg_get_userbyid(c.relowner) || ' acl ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(c.relacl) a), '')
            FROM pg_class c JOIN s ON s.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            UNION ALL
            SELECT 'column ' || s.nspname || '.' || c.relname || '.' || a.attname || ' acl ' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN s ON s.oid = c.relnamespace WHERE a.attacl IS NOT NULL AND a.attnum > 0
            UNION ALL
            SELECT 'routine ' || s.nspname || '.' || p.proname || ' owner ' || pg_get_userbyid(p.proowner) || ' acl ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(p.proacl) a), '')
            FROM pg_proc p JOIN s ON s.oid = p.pronamespace
            UNION ALL
            SELECT 'type ' || s.nspname || '.' || t.typname || ' owner ' || pg_get_userbyid(t.typowner) || ' acl ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(t.typacl) a), '')
            FROM pg_type t JOIN s ON s.oid = t.typnamespace
            UNION ALL
            SELECT 'large object ' || l.oid || ' owner ' || pg_get_userbyid(l.lomowner) || ' acl ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(l.lomacl) a), '')
            FROM pg_largeobject_metadata l
            UNION ALL
            SELECT 'default ' || pg_get_userbyid(d.defaclrole) || ' ' || coalesce(d.defaclnamespace::regnamespace::text, '') || ' ' || d.defaclobjtype::text || ' acl ' || (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(d.defaclacl) a)
            FROM pg_default_acl d
            UNION ALL
            SELECT 'policy ' || polname || ' on ' || polrelid::regclass::text || ' to ' || (SELECT string_agg(CASE r WHEN 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ',' ORDER BY 1) FROM unnest(polroles) r)
            FROM pg_policy
            """, r => r.GetString(0), CancellationToken.None);
        // PostgreSQL 17 gives an owner MAINTAIN (m) too: one more letter of its default privileges (and of ALL), not a
        // difference; also where the owner revoked others from itself (an item granted by its grantee).
        var text = string.Join('\n', lines).Replace("=arwdDxtm/", "=arwdDxt/", StringComparison.Ordinal);
        return Lines(OwnersMaintain().Replace(text, "$1=$2$3/$1"), renames);
    }

    [GeneratedRegex(@"(?<=[ ,])(""(?:[^""]|"""")*""|[^ ,=""/]+)=([a-zA-Z*]*)m([a-zA-Z*]*)/\1(?=,|$)", RegexOptions.Multiline)]
    private static partial Regex OwnersMaintain();

    private static List<string> Lines(string dump, IReadOnlyDictionary<string, string> renames) =>
        [.. dump.Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith("--", StringComparison.Ordinal) && !l.StartsWith("SET ", StringComparison.Ordinal)
                && !l.StartsWith("\\restrict ", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict ", StringComparison.Ordinal)
                && !l.StartsWith("SELECT pg_catalog.set_config", StringComparison.Ordinal))
            .Select(l => renames.Aggregate(l, (text, r) => Regex.Replace(text, $@"(?<![\w""]){Regex.Escape(r.Key)}(?![\w""])|""{Regex.Escape(r.Key.Replace("\"", "\"\"", StringComparison.Ordinal))}""", r.Value)))
            .Order(StringComparer.Ordinal)];
}

using System.Text.RegularExpressions;

namespace PgRelocate.Archives;

/// <summary>
/// The roles an archive names, read from its table of contents alone (restore --roles has no source to ask):
/// the owners of its entries, the grantees and grantors of its ACL and DEFAULT ACL entries (pg_dump's GRANT,
/// REVOKE, ALTER DEFAULT PRIVILEGES FOR ROLE and SET SESSION AUTHORIZATION statements) and the roles its
/// POLICY entries are TO. Attributes, passwords and memberships are not in an archive.
/// </summary>
internal static partial class ArchiveRoles
{
    /// <summary>Every role named, unquoted, sorted; and among them the owners (of entries, and of default privileges).</summary>
    public static (IReadOnlyList<string> Named, IReadOnlyList<string> Owners) Read(IReadOnlyList<ArchiveEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var owners = new HashSet<string>(StringComparer.Ordinal);
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (e.Owner is { Length: > 0 } owner)
            {
                owners.Add(owner);
            }

            switch (e.Kind)
            {
                case "ACL":
                case "DEFAULT ACL":
                    foreach (Match m in GrantRoles().Matches(e.Definition))
                    {
                        named.UnionWith(Names(m.Groups["list"].Value));
                    }

                    foreach (Match m in ForRole().Matches(e.Definition))
                    {
                        owners.UnionWith(Names(m.Groups["list"].Value));
                    }

                    break;
                case "POLICY":
                    named.UnionWith(PolicyRolesOf(e.Definition));
                    break;
            }
        }

        named.UnionWith(owners);
        named.RemoveWhere(Keywords.Contains);
        return ([.. named.Order(StringComparer.Ordinal)], [.. owners.Where(named.Contains).Order(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// The roles the archive's row-level security policies name, one per policy and role, as the catalog names them
    /// for a source (<see cref="Catalog.DatabaseAccess.ReadPolicyRolesAsync"/>): a restore without roles fails on a
    /// policy whose role the target lacks. PUBLIC is left out.
    /// </summary>
    public static IReadOnlyList<Catalog.PolicyRole> Policies(IReadOnlyList<ArchiveEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return [.. entries.Where(e => e.Kind == "POLICY")
            .Select(e => (Head: PolicyHead().Match(e.Definition), e.Definition))
            .Where(p => p.Head.Success)
            .SelectMany(p => PolicyRolesOf(p.Definition).Select(role => new Catalog.PolicyRole(p.Head.Groups["table"].Value, Names(p.Head.Groups["policy"].Value).First(), role)))];
    }

    /// <summary>"CREATE POLICY p ON t [AS ...] [FOR ...] TO r1, r2 USING (...) WITH CHECK (...);": the roles, read only before the expressions.</summary>
    private static IEnumerable<string> PolicyRolesOf(string definition)
    {
        var head = PolicyExpressions().Split(definition, 2)[0];
        return PolicyTo().Matches(head).SelectMany(m => Names(m.Groups["list"].Value)).Where(r => !Keywords.Contains(r)).Distinct(StringComparer.Ordinal);
    }

    /// <summary>The kinds of entry pg_restore gives their owner (ALTER ... OWNER TO), but for large objects.</summary>
    private static readonly HashSet<string> Owned = new(StringComparer.Ordinal)
    {
        "AGGREGATE", "COLLATION", "CONVERSION", "DOMAIN", "FUNCTION", "OPERATOR", "OPERATOR CLASS", "OPERATOR FAMILY", "PROCEDURE",
        "SCHEMA", "STATISTICS", "TABLE", "TYPE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "FOREIGN TABLE", "TEXT SEARCH DICTIONARY",
        "TEXT SEARCH CONFIGURATION", "PUBLICATION",
    };

    /// <summary>
    /// The owner of each entry pg_restore would give one, as TargetAccess alters it: what to alter, named as the
    /// entry's drop statement names it ("TABLE shop.orders", "FUNCTION shop.f(integer)", "LARGE OBJECT 16403"), its
    /// schema (quoted; null for a schema or a large object), the owner. A sequence comes after its table (whose
    /// change moves the sequences it owns along), schemas and large objects last.
    /// </summary>
    public static IReadOnlyList<(string Object, string? Schema, string Owner)> Owners(IReadOnlyList<ArchiveEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var owners = new List<(string Object, string? Schema, string Owner, int Order)>();
        foreach (var e in entries.Where(e => e.Owner is { Length: > 0 }))
        {
            if (e.Kind is "BLOB" && uint.TryParse(e.Tag, out var oid))
            {
                owners.Add(($"LARGE OBJECT {oid}", null, e.Owner!, 3));
            }
            else if (e.Kind is "SCHEMA")
            {
                // The public schema's entry creates nothing (initdb did) and has no drop statement: named by its tag.
                owners.Add(($"SCHEMA {Connections.Db.Ident(e.Tag)}", null, e.Owner!, 2));
            }
            else if (Owned.Contains(e.Kind) && e.DropStatement is { } drop && DropOf().Match(drop) is { Success: true } m)
            {
                owners.Add((m.Groups["object"].Value, e.Schema is null ? null : Connections.Db.Ident(e.Schema), e.Owner!, e.Kind == "SEQUENCE" ? 1 : 0));
            }
        }

        return [.. owners.OrderBy(o => o.Order).Select(o => (o.Object, o.Schema, o.Owner))];
    }

    /// <summary>
    /// The archive's privileges and default privileges: the statements of its ACL and DEFAULT ACL entries, as
    /// pg_restore would run them. The source database's own (an ACL entry a custom archive always holds, which
    /// pg_restore runs only with --create) are given to <paramref name="targetDatabase"/> instead.
    /// </summary>
    public static IReadOnlyList<string> Grants(IReadOnlyList<ArchiveEntry> entries, string targetDatabase)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return [.. entries.Where(e => e.Kind is "ACL" or "DEFAULT ACL" && !string.IsNullOrWhiteSpace(e.Definition))
            .Select(e => OnDatabase().Replace(e.Definition, "ON DATABASE " + Connections.Db.Ident(targetDatabase).Replace("$", "$$", StringComparison.Ordinal)))];
    }

    /// <summary>pg_dump's "DROP KIND NAME;" (without --if-exists or --clean): the kind and name ALTER ... OWNER TO takes.</summary>
    [GeneratedRegex(@"^DROP (?<object>.+);\s*$", RegexOptions.Singleline)]
    private static partial Regex DropOf();

    /// <summary>"ON DATABASE name" of a GRANT or REVOKE: in an archive of one database, that database.</summary>
    [GeneratedRegex(@"\bON DATABASE " + Ident + @"(?=\s)")]
    private static partial Regex OnDatabase();

    /// <summary>Words pg_dump writes where a role could stand that are not roles.</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase) { "public", "group", "current_user", "session_user", "current_role" };

    /// <summary>The names of a comma-separated list of identifiers, quotes removed.</summary>
    private static IEnumerable<string> Names(string list) =>
        Identifier().Matches(list).Select(m => m.Value.StartsWith('"') ? m.Value[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : m.Value);

    private const string Ident = @"(?:""(?:[^""]|"""")+""|[A-Za-z_][A-Za-z0-9_$]*)";

    [GeneratedRegex(Ident)]
    private static partial Regex Identifier();

    /// <summary>The grantees of GRANT ... TO and REVOKE ... FROM, and the role of SET SESSION AUTHORIZATION (a grantor).</summary>
    [GeneratedRegex(@"(?:\b(?:TO|FROM)|SESSION AUTHORIZATION)\s+(?<list>" + Ident + @"(?:\s*,\s*" + Ident + @")*)\s*(?:;|\s+WITH\s|\s+GRANTED\s)")]
    private static partial Regex GrantRoles();

    [GeneratedRegex(@"\bFOR ROLE\s+(?<list>" + Ident + @"(?:\s*,\s*" + Ident + @")*)")]
    private static partial Regex ForRole();

    [GeneratedRegex(@"\s(?:USING|WITH CHECK)\s*\(")]
    private static partial Regex PolicyExpressions();

    [GeneratedRegex(@"^\s*CREATE POLICY (?<policy>" + Ident + @") ON (?<table>" + Ident + @"\." + Ident + @")\s")]
    private static partial Regex PolicyHead();

    [GeneratedRegex(@"\sTO\s+(?<list>" + Ident + @"(?:\s*,\s*" + Ident + @")*)\s*(?:;|$)")]
    private static partial Regex PolicyTo();
}

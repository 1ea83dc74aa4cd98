using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Runners;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// The tests' one "nothing was lost" comparison, computed from the catalogs and pg_dump without PgRelocate's
/// code: every table's exact row count (<c>count(*)</c>) and an order-independent digest of its rows, every
/// sequence's definition and state, schemas, extensions with their versions, columns, indexes, constraints,
/// triggers, views, functions and aggregates, types, large objects' SHA-256, and the normalized
/// <c>pg_dump --schema-only</c> of both sides. What legitimately differs is left out: ownership and grants,
/// and on the target the provider's pre-installed extensions (with their objects and schemas) that the
/// source does not have.
/// </summary>
public static partial class DatabaseSnapshot
{
    /// <summary>Relations of the sample database's schemas not owned by the login role: 0 after a restore or copy, which reassigns them all.</summary>
    public static Task<long> SampleObjectsNotOwnedByLoginAsync(PgConnectionInfo db) => PgServer.ScalarAsync<long>(db, """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('shop', 'billing', 'reporting') AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
        """);

    /// <summary>Fails, listing every difference, unless <paramref name="target"/> holds what <paramref name="source"/> holds.</summary>
    public static async Task AssertSameAsync(PgConnectionInfo source, PgConnectionInfo target)
    {
        var sourceExtensions = await ExtensionsAsync(source, "true");
        // The provider's: installed on the target by a superuser, and absent from the source.
        var providerOnly = (await ExtensionsAsync(target, "(SELECT rolsuper FROM pg_roles WHERE oid = extowner)")).Where(e => !sourceExtensions.Contains(e)).ToList();
        var providerSchemas = await ProviderSchemasAsync(source, target, providerOnly);
        // A view's text is each server version's own rendering of its query: across versions, its columns are compared.
        var sameVersion = await ServerMajorAsync(source) == await ServerMajorAsync(target);
        var expected = await TakeAsync(source, viewText: sameVersion);
        var actual = await TakeAsync(target, providerOnly, providerSchemas, sameVersion);
        var problems = new StringBuilder();
        Describe(problems, "catalogs and rows", expected, actual);
        if (await SchemaDumpsAsync(source, target, providerOnly, providerSchemas) is var (sourceDump, targetDump))
        {
            Describe(problems, "pg_dump --schema-only", sourceDump, targetDump);
        }

        if (problems.Length > 0)
        {
            throw new Xunit.Sdk.XunitException($"The target {target.Database} differs from the source {source.Database}:\n{problems}");
        }
    }

    /// <summary>
    /// <see cref="AssertSameAsync"/>, then each of <paramref name="tables"/> row for row: its exact row count and a
    /// digest of its rows (<see cref="RowsDigestAsync"/>), by plain SQL; a difference names the table.
    /// </summary>
    public static async Task AssertIdenticalAsync(PgConnectionInfo source, PgConnectionInfo target, params IEnumerable<string> tables)
    {
        await AssertSameAsync(source, target);
        foreach (var table in tables)
        {
            var (expected, actual) = (await RowsDigestAsync(source, table), await RowsDigestAsync(target, table));
            if (expected != actual)
            {
                throw new Xunit.Sdk.XunitException($"The rows of {table} differ: the target's {actual}, the source's {expected} (rows:md5).");
            }
        }
    }

    /// <summary>A table's exact row count and a digest of its rows (its own, not its partitions'), in the order of their text, by plain SQL.</summary>
    public static async Task<string> RowsDigestAsync(PgConnectionInfo db, string table) =>
        await PgServer.ScalarAsync<string>(db, $"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ONLY {table} t") ?? "";

    /// <summary>
    /// The comparable lines of one database. Objects of <paramref name="ignoredExtensions"/> and the schemas
    /// <paramref name="ignoredSchemas"/> themselves (not what else they hold) are left out.
    /// </summary>
    public static async Task<List<string>> TakeAsync(PgConnectionInfo db, IReadOnlyCollection<string>? ignoredExtensions = null, IReadOnlyCollection<string>? ignoredSchemas = null, bool viewText = true)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        // The same renderings on both sides, whatever the servers' defaults.
        await Db.ExecuteAsync(conn, "SET extra_float_digits = 3; SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; SET bytea_output = hex", CancellationToken.None);
        var ignored = ignoredExtensions?.ToArray() ?? [];
        // An object is left out when it belongs to an ignored extension.
        string Kept(string catalog, string oid) => $"""
            NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                        WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e' AND e.extname = ANY(@ignored))
            """;
        const string userSchema = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'";
        var lines = new List<string>();

        lines.AddRange(await ListAsync(conn, ignored, $"SELECT 'schema ' || format('%I', n.nspname) FROM pg_namespace n WHERE {userSchema} AND n.nspname <> ALL(@ignoredSchemas) ORDER BY 1", ignoredSchemas));
        lines.AddRange(await ListAsync(conn, ignored, """
            SELECT format('extension %I in %I version %s', e.extname, e.extnamespace::regnamespace, e.extversion)
            FROM pg_extension e WHERE e.extname <> ALL(@ignored) ORDER BY 1
            """));

        var relations = $"""
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {userSchema} AND n.nspname NOT LIKE 'pg\_toast%' AND {Kept("pg_class", "c.oid")}
            """;
        foreach (var table in await ListAsync(conn, ignored, $"SELECT format('%I.%I', n.nspname, c.relname) {relations} AND c.relkind IN ('r', 'p', 'm') ORDER BY 1"))
        {
            lines.Add($"table {table} rows and digest " + string.Join(' ', await ListAsync(conn, ignored, $"SELECT count(*) || ' ' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM ONLY {table} t")));
        }

        lines.AddRange(await ListAsync(conn, ignored, $"""
            SELECT format('column %I.%I.%I %s%s%s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                          CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
                 LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
            WHERE {userSchema} AND {Kept("pg_class", "c.oid")} AND (c.relkind <> 'c' OR {Kept("pg_type", "c.reltype")}) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY 1
            """));
        foreach (var seq in await ListAsync(conn, ignored, $"SELECT format('%I.%I', n.nspname, c.relname) {relations} AND c.relkind = 'S' ORDER BY 1"))
        {
            lines.AddRange(await ListAsync(conn, ignored, $"""
                SELECT 'sequence {seq} ' || s.seqtypid::regtype || ' start ' || s.seqstart || ' by ' || s.seqincrement || ' cycle ' || s.seqcycle
                       || ' at ' || x.last_value || ' called ' || x.is_called
                FROM pg_sequence s, {seq} x WHERE s.seqrelid = '{seq.Replace("'", "''", StringComparison.Ordinal)}'::regclass
                """));
        }

        lines.AddRange(await ListAsync(conn, ignored, $"""
            SELECT 'index ' || pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END
            FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {userSchema} AND {Kept("pg_class", "c.oid")} ORDER BY 1
            """));
        lines.AddRange(await ListAsync(conn, ignored, $"""
            SELECT 'constraint ' || coalesce(con.conrelid::regclass::text, con.contypid::regtype::text) || ' '
                   -- A copy of a parent's constraint is named by the server, differently across versions: name it by its parent's.
                   || CASE WHEN con.conparentid <> 0 THEN '(from ' || format('%I', (SELECT p.conname FROM pg_constraint p WHERE p.oid = con.conparentid)) || ')' ELSE format('%I', con.conname) END || ' '
                   || pg_get_constraintdef(con.oid) || ' valid=' || con.convalidated
            FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
            WHERE {userSchema} AND con.contype <> 'n' AND (con.conrelid = 0 OR {Kept("pg_class", "con.conrelid")}) AND (con.contypid = 0 OR {Kept("pg_type", "con.contypid")})
            ORDER BY 1
            """));
        lines.AddRange(await ListAsync(conn, ignored, $"""
            SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND {userSchema} AND {Kept("pg_class", "c.oid")} ORDER BY 1
            """));
        var view = viewText
            ? "pg_get_viewdef(c.oid)"
            : "(SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0)";
        lines.AddRange(await ListAsync(conn, ignored, $"SELECT format('view %I.%I ', n.nspname, c.relname) || {view} {relations} AND c.relkind IN ('v', 'm') ORDER BY 1"));
        lines.AddRange(await ListAsync(conn, ignored, $"""
            SELECT format('function %I.%I(%s) kind %s returns %s ', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
                          coalesce(pg_get_function_result(p.oid), '-'))
                   || encode(sha256(convert_to(coalesce(p.prosrc, ''), 'UTF8')), 'hex')
                   || coalesce((SELECT format(' aggregate %s %s %s', a.aggtransfn::regproc, a.aggtranstype::regtype, a.agginitval) FROM pg_aggregate a WHERE a.aggfnoid = p.oid), '')
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE {userSchema} AND {Kept("pg_proc", "p.oid")} ORDER BY 1
            """));
        lines.AddRange(await ListAsync(conn, ignored, $"""
            SELECT format('type %I.%I %s', n.nspname, t.typname, t.typtype)
                   || coalesce(' labels ' || (SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
                   || CASE WHEN t.typtype = 'd' THEN ' over ' || format_type(t.typbasetype, t.typtypmod) ELSE '' END
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE {userSchema} AND t.typtype IN ('e', 'd', 'c', 'r') AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
              AND {Kept("pg_type", "t.oid")}
            ORDER BY 1
            """));
        lines.AddRange(await ListAsync(conn, ignored, "SELECT 'large object ' || oid || ' ' || encode(sha256(lo_get(oid)), 'hex') FROM pg_largeobject_metadata ORDER BY oid"));
        return lines;
    }

    private static async Task<HashSet<string>> ExtensionsAsync(PgConnectionInfo db, string condition) =>
        [.. (await PgServer.ScalarAsync<string[]>(db, $"SELECT coalesce(array_agg(extname::text), '{{}}') FROM pg_extension WHERE {condition}"))!];

    /// <summary>The schemas of the provider's extensions on the target that the source does not have.</summary>
    private static async Task<HashSet<string>> ProviderSchemasAsync(PgConnectionInfo source, PgConnectionInfo target, List<string> providerOnly)
    {
        var providerSchemas = await PgServer.ScalarAsync<string[]>(target, $"""
            SELECT coalesce(array_agg(DISTINCT n.nspname::text), ARRAY[]::text[]) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE extname = ANY(ARRAY[{string.Join(',', providerOnly.Select(Db.Literal).DefaultIfEmpty("NULL"))}]::text[])
            """) ?? [];
        var sourceSchemas = await PgServer.ScalarAsync<string[]>(source, "SELECT coalesce(array_agg(nspname::text), '{}') FROM pg_namespace") ?? [];
        return providerSchemas.Except(sourceSchemas, StringComparer.Ordinal).ToHashSet(StringComparer.Ordinal);
    }

    private static void Describe(StringBuilder problems, string what, List<string> expected, List<string> actual)
    {
        var missing = Subtract(expected, actual);
        var extra = Subtract(actual, expected);
        if (missing.Count == 0 && extra.Count == 0)
        {
            return;
        }

        problems.AppendLine($"- {what}: {missing.Count} missing on the target, {extra.Count} extra on the target");
        foreach (var (sign, items) in new[] { ("-", missing), ("+", extra) })
        {
            foreach (var item in items.Take(25))
            {
                var text = item.Length > 600 ? item[..600] + " …" : item;
                problems.AppendLine($"  {sign} {text.Replace("\n", "\n    ", StringComparison.Ordinal)}");
            }

            if (items.Count > 25)
            {
                problems.AppendLine($"  {sign} … and {items.Count - 25} more");
            }
        }
    }

    /// <summary>The items of <paramref name="a"/> not matched one for one in <paramref name="b"/>.</summary>
    private static List<string> Subtract(List<string> a, List<string> b)
    {
        var left = b.GroupBy(x => x, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var x in a)
        {
            if (left.TryGetValue(x, out var n) && n > 0)
            {
                left[x] = n - 1;
            }
            else
            {
                result.Add(x);
            }
        }

        return result;
    }

    /// <summary>
    /// Both sides' <c>pg_dump --schema-only --no-owner --no-privileges</c> as lists of entries, by a pg_dump new
    /// enough for both servers, or null when this machine has none (the catalog comparison still runs).
    /// </summary>
    private static async Task<(List<string> Source, List<string> Target)?> SchemaDumpsAsync(PgConnectionInfo source, PgConnectionInfo target, List<string> providerOnly, IReadOnlySet<string> providerSchemas)
    {
        var major = Math.Max(await ServerMajorAsync(source), await ServerMajorAsync(target));
        if (PgDump(major) is not { } pgDump)
        {
            return null;
        }

        return (Entries(await DumpAsync(pgDump, source), [], new HashSet<string>()), Entries(await DumpAsync(pgDump, target), providerOnly, providerSchemas));
    }

    private static async Task<int> ServerMajorAsync(PgConnectionInfo db) => await PgServer.ScalarAsync<int>(db, "SELECT current_setting('server_version_num')::int / 10000");

    /// <summary>The oldest pg_dump of this machine (Debian's or a server tree's under .tools) that dumps a server of <paramref name="major"/>.</summary>
    private static string? PgDump(int major)
    {
        var candidates = new List<(int Major, string Path)>();
        foreach (var bin in Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [])
        {
            if (int.TryParse(Path.GetFileName(bin), out var m) && File.Exists(Path.Combine(bin, "bin", "pg_dump")))
            {
                candidates.Add((m, Path.Combine(bin, "bin", "pg_dump")));
            }
        }

        foreach (var m in new[] { 16, 17, 18 })
        {
            try
            {
                var path = Path.Combine(EmbeddedServers.BinDir(m), "pg_dump");
                if (File.Exists(path))
                {
                    candidates.Add((m, path));
                }
            }
            catch (InvalidOperationException)
            {
            }
        }

        return candidates.Where(c => c.Major >= major).OrderBy(c => c.Major).Select(c => c.Path).FirstOrDefault();
    }

    /// <summary>
    /// The GRANT, REVOKE and ALTER DEFAULT PRIVILEGES lines of <c>pg_dump --schema-only</c>, sorted, with the
    /// login role's name written as OWNER: what a database grants, read by pg_dump rather than by our code. Grants
    /// to the login role are left out: where it owns every object (a restored target) it needs none.
    /// </summary>
    public static async Task<List<string>> PrivilegeLinesAsync(PgConnectionInfo db)
    {
        var pgDump = PgDump(await ServerMajorAsync(db)) ?? throw new Xunit.Sdk.XunitException("No pg_dump on this machine dumps this server.");
        var owner = db.User;
        return [.. (await DumpAsync(pgDump, db, ["--schema-only", "--no-owner"])).Split('\n')
            .Where(l => l.StartsWith("GRANT ", StringComparison.Ordinal) || l.StartsWith("REVOKE ", StringComparison.Ordinal) || l.StartsWith("ALTER DEFAULT PRIVILEGES ", StringComparison.Ordinal))
            .Select(l => l.Replace(" " + owner + " ", " OWNER ", StringComparison.Ordinal).Replace(" " + owner + ";", " OWNER;", StringComparison.Ordinal))
            .Where(l => !l.EndsWith(" TO OWNER;", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
    }

    private static Task<string> DumpAsync(string pgDump, PgConnectionInfo db) => DumpAsync(pgDump, db, ["--schema-only", "--no-owner", "--no-privileges"]);

    private static async Task<string> DumpAsync(string pgDump, PgConnectionInfo db, string[] arguments)
    {
        var info = new ProcessStartInfo(pgDump, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (k, v) in db.ToLibpqEnvironment())
        {
            info.Environment[k] = v;
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException($"pg_dump --schema-only of {db.Database} failed: {await stderr}");
        }

        return await stdout;
    }

    /// <summary>
    /// A dump as its entries (each header with its statements), less what differs by nature: the version
    /// lines, newer pg_dumps' random <c>\restrict</c> keys, the session settings written where pg_dump's
    /// sections change (they land in whichever entry comes last), the public schema's ownership-only entry,
    /// and the provider's own extensions and their schemas.
    /// </summary>
    private static List<string> Entries(string dump, IReadOnlyCollection<string> skippedExtensions, IReadOnlySet<string> skippedSchemas)
    {
        var text = string.Join('\n', dump.Split('\n').Where(l =>
            !l.StartsWith("\\restrict ", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict ", StringComparison.Ordinal) &&
            !l.StartsWith("-- Dumped from", StringComparison.Ordinal) && !l.StartsWith("-- Dumped by", StringComparison.Ordinal) &&
            !l.StartsWith("SET ", StringComparison.Ordinal)));
        var entries = new List<string>();
        foreach (var entry in EntryStart().Split(text).Skip(1))
        {
            var header = entry.Split('\n')[0];
            var m = Header().Match(header);
            if (m.Success)
            {
                var (name, type) = (m.Groups[1].Value, m.Groups[2].Value);
                if ((type == "EXTENSION" && skippedExtensions.Contains(name)) ||
                    (type == "COMMENT" && name.StartsWith("EXTENSION ", StringComparison.Ordinal) && skippedExtensions.Contains(name["EXTENSION ".Length..])) ||
                    (type == "SCHEMA" && skippedSchemas.Contains(name)))
                {
                    continue;
                }
            }

            // pg_dump writes this entry only when the public schema's owner or grants are not the default ones:
            // it carries ownership, which --no-owner leaves out of the comparison.
            if (entry.Contains("-- *not* creating schema, since initdb creates it", StringComparison.Ordinal) && header.StartsWith("Name: public; Type: SCHEMA;", StringComparison.Ordinal))
            {
                continue;
            }

            entries.Add(BlankLines().Replace(entry.Trim(), "\n\n"));
        }

        return entries;
    }

    private static async Task<List<string>> ListAsync(NpgsqlConnection conn, string[] ignored, string sql, IReadOnlyCollection<string>? ignoredSchemas = null)
    {
        var result = new List<string>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.AddWithValue("ignored", ignored);
        cmd.Parameters.AddWithValue("ignoredSchemas", ignoredSchemas?.ToArray() ?? []);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            result.Add(r.GetString(0));
        }

        return result;
    }

    [GeneratedRegex(@"\n--\n-- (?=Name: |Data for Name: )")]
    private static partial Regex EntryStart();

    [GeneratedRegex(@"\n{3,}")]
    private static partial Regex BlankLines();

    [GeneratedRegex(@"^Name: (.*); Type: ([A-Z ]+); Schema: ")]
    private static partial Regex Header();
}

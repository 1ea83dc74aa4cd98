using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using PgRelocate.Catalog;

namespace PgRelocate.Tests;

/// <summary>
/// The SQL rules of docs/architecture.md: what a user schema, a user table, a user relation and an extension's
/// member are is written once, in Catalog/*.sql, and included everywhere else as a fragment; one loader reads
/// every embedded .sql; the user objects' kinds are listed once for the emptiness check and the emptying.
/// </summary>
public partial class ArchitectureTests
{
    /// <summary>
    /// Pieces of the user-schema and user-table filters. Outside Catalog/*.sql any of them is a copy of the
    /// definition; a query narrows the fragments instead (<c>c.relkind = 'S' AND c.oid IN ({{user_relations}})</c>).
    /// </summary>
    private static readonly (string What, Regex Pattern)[] UserFilterMarkers =
    [
        ("names the TOAST or temporary schemas (Catalog/UserSchemas.sql)", new(@"pg_\\?_?toast|pg_temp", RegexOptions.IgnoreCase)),
        ("excludes pg_catalog or information_schema by name (Catalog/UserSchemas.sql)", new(@"'(?:pg_catalog|information_schema)'", RegexOptions.IgnoreCase)),
        ("leaves temporary relations out by relpersistence (Catalog/UserRelations.sql)", new(@"relpersistence\s*(?:<>|!=)\s*'t'", RegexOptions.IgnoreCase)),
        ("decides membership of an extension (Catalog/ExtensionMembers.sql)", new(@"deptype\s*(?:=\s*'e'|IN\s*\([^)]*'e')", RegexOptions.IgnoreCase)),
        ("chooses relations by their schema instead of {{user_relations}}", new(@"relnamespace\s+IN\s*\(\s*\{\{user_schemas\}\}", RegexOptions.IgnoreCase)),
        ("assembles the filter from C# pieces instead of a fragment", new(@"\b(?:IsUserSchema|IsUserTable|NotExtensionMember)\s*\(")),
    ];

    [Fact]
    public void Should_Write_The_User_Filters_Only_In_The_Catalogs_Sql()
    {
        var copies = new List<string>();
        foreach (var file in SqlFiles().Where(f => Folder(f) != "Catalog"))
        {
            copies.AddRange(Markers(SqlWithoutComments(File.ReadAllText(file))).Select(m => $"{Relative(file)} {m}"));
        }

        foreach (var (file, _) in CoreFiles())
        {
            foreach (var literal in StringLiterals(File.ReadAllText(file)))
            {
                copies.AddRange(Markers(literal).Select(m => $"{Relative(file)} (a string literal) {m}"));
            }
        }

        Assert.True(copies.Count == 0, string.Join("\n", copies.Distinct()));
    }

    [Fact]
    public void Should_Find_The_Markers_In_A_Copy_And_Not_In_A_Query_Using_The_Fragments()
    {
        const string copy = """"
            var sql = $"SELECT 1 FROM pg_class c WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')";
            var raw = $$"""
                SELECT c.oid FROM pg_class c WHERE c.relpersistence <> 't' AND {{CatalogSql.IsUserSchema("n.oid")}}
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
                """;
            """";
        const string fragments = """
            // pg_toast is named in a comment only
            var sql = CatalogSql.Expand("SELECT c.oid FROM pg_class c WHERE c.relkind = 'S' AND c.oid IN ({{user_relations}})");
            var text = $"{(ok ? "" : "s")} 'pg_catalog.pg_class'::regclass";
            """;

        var found = StringLiterals(copy).SelectMany(Markers).ToList();

        Assert.Equal(4, found.Count);
        Assert.Empty(StringLiterals(fragments).SelectMany(Markers));
    }

    [Fact]
    public void Should_Read_Embedded_Sql_Through_The_One_Loader_Only()
    {
        var readers = CoreFiles()
            .Where(f => CodeOnly(File.ReadAllText(f.File)).Contains("GetManifestResource", StringComparison.Ordinal))
            .Select(f => Relative(f.File))
            .ToList();
        Assert.Equal(["Catalog/CatalogSql.cs"], readers);
    }

    [Fact]
    public void Should_Load_Every_Embedded_Sql_Without_Comments_Or_Unexpanded_Fragments()
    {
        var resources = typeof(CatalogSql).Assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)).ToList();
        var files = SqlFiles().Select(f => Relative(f)).ToList();
        Assert.Equal(files.Count, resources.Count);
        foreach (var path in files)
        {
            var sql = CatalogSql.Load(path);
            Assert.DoesNotContain("{{", sql, StringComparison.Ordinal);
            Assert.DoesNotContain(sql.Split('\n'), l => l.TrimStart().StartsWith("--", StringComparison.Ordinal));
            Assert.False(string.IsNullOrWhiteSpace(sql), path);
        }
    }

    [Fact]
    public void Should_Use_Every_Sql_File()
    {
        // A file is used when code loads it by name, or another file includes it as a {{fragment}}; a query
        // OnlineSql loads is used when code outside OnlineSql reads it (SlotLag.sql once was loaded and never run).
        var code = string.Concat(CoreFiles().Select(f => CodeOnly(File.ReadAllText(f.File))));
        var sql = string.Concat(SqlFiles().Select(File.ReadAllText));
        var unused = SqlFiles()
            .Select(f => (Path: Relative(f), Name: Path.GetFileNameWithoutExtension(f)))
            .Where(f => !code.Contains($"\"{f.Name}.sql\"", StringComparison.Ordinal)
                        && !code.Contains($"\"{f.Path}\"", StringComparison.Ordinal)
                        && !sql.Contains("{{" + Snake(f.Name) + "}}", StringComparison.Ordinal))
            .Select(f => f.Path)
            .ToList();
        var onlineSql = Path.Combine(CoreRoot(), "Online", "OnlineSql.cs");
        var elsewhere = string.Concat(CoreFiles().Where(f => f.File != onlineSql).Select(f => CodeOnly(File.ReadAllText(f.File))));
        unused.AddRange(OnlineSqlField().Matches(File.ReadAllText(onlineSql)).Select(m => m.Groups[1].Value)
            .Where(field => !elsewhere.Contains("OnlineSql." + field, StringComparison.Ordinal))
            .Select(field => $"OnlineSql.{field}"));
        Assert.True(unused.Count == 0, string.Join("\n", unused));
    }

    [Fact]
    public void Should_List_The_User_Object_Kinds_Once_For_The_Emptiness_Check_And_The_Emptying()
    {
        // UserObjects.sql (is the database empty?) and EmptyPlan.sql (drop what is there) read one list of the
        // user objects, UserObjectList.sql, and neither reads an object catalog of its own: a kind one of them
        // knew and the other not would leave an emptied target "not empty", or drop what the check never saw.
        string[] objectCatalogs = ["pg_class", "pg_proc", "pg_type", "pg_operator", "pg_collation", "pg_ts_config", "pg_ts_dict"];
        foreach (var name in new[] { "UserObjects.sql", "EmptyPlan.sql" })
        {
            var sql = SqlWithoutComments(File.ReadAllText(Path.Combine(CoreRoot(), "Catalog", name)));
            Assert.Contains("{{user_object_list}}", sql, StringComparison.Ordinal);
            Assert.DoesNotContain(objectCatalogs, c => Regex.IsMatch(sql, $@"\b{c}\b"));
        }
    }

    /// <summary>
    /// The engine's files that still write SQL longer than a line in C#, each with its reason; an entry whose file
    /// holds no such SQL any more fails the test, so the list only shrinks.
    /// </summary>
    private static readonly Dictionary<string, string> SqlInCodeAllowed = new(StringComparer.Ordinal)
    {
    };

    [Fact]
    public void Should_Keep_Sql_Longer_Than_A_Line_In_Sql_Files()
    {
        // docs/architecture.md: every SQL longer than a line sits in a .sql file beside its code, read by
        // CatalogSql.Load (which strips comment lines and expands {{fragments}}; placeholders for what the server
        // takes no bind parameter for). Raw string literals are where C# holds SQL of several lines.
        var files = CoreFiles().Select(f => (Path: Relative(f.File), Lines: MultiLineSql(File.ReadAllText(f.File)).ToList())).ToList();
        var found = files.Where(f => !SqlInCodeAllowed.ContainsKey(f.Path))
            .SelectMany(f => f.Lines.Select(line => $"{f.Path}:{line}: move this SQL to a .sql file beside its code, read by CatalogSql.Load"))
            .ToList();
        found.AddRange(SqlInCodeAllowed.Keys.Where(path => !files.Any(f => f.Path == path && f.Lines.Count > 0))
            .Select(path => $"{path}: holds no SQL longer than a line any more: take it off SqlInCodeAllowed"));
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    [Fact]
    public void Should_Find_Sql_Of_Several_Lines_In_A_Raw_String_And_Not_One_Line_Or_Prose()
    {
        const string source = """"
            var one = """
                SELECT 1 FROM pg_class
                """;
            var help = """
                Creates the target's roles
                and grants.
                """;
            var sql = $"""
                DROP TABLE {name};
                CREATE TABLE {name} ();
                """;
            var two = CatalogSql.Expand("""
                SELECT c.oid FROM pg_class c
                WHERE c.oid IN ({{user_tables}})
                """);
            """";

        Assert.Equal([8, 12], MultiLineSql(source).ToArray());
    }

    /// <summary>The lines where a raw string literal of <paramref name="source"/> opens whose text is SQL of several lines.</summary>
    private static IEnumerable<int> MultiLineSql(string source) =>
        RawStringLiteral().Matches(source)
            .Where(m => m.Groups["body"].Value.Trim() is var text && text.Contains('\n', StringComparison.Ordinal) && SqlStart().IsMatch(text))
            .Select(m => source.AsSpan(0, m.Index).Count('\n') + 1);

    [GeneratedRegex("""(?<!")(?<quotes>"{3,})[ \t]*\r?\n(?<body>.*?)\r?\n[ \t]*\k<quotes>""", RegexOptions.Singleline)]
    private static partial Regex RawStringLiteral();

    [GeneratedRegex(@"^(?:SELECT|WITH|INSERT|UPDATE|DELETE|CREATE|ALTER|DO|DROP|LOCK|COPY|SET)\s")]
    private static partial Regex SqlStart();

    private static IEnumerable<string> Markers(string sql) =>
        UserFilterMarkers.Where(m => m.Pattern.IsMatch(sql)).Select(m => $"{m.What}: {m.Pattern.Match(sql).Value}");

    private static IEnumerable<string> SqlFiles() =>
        Directory.GetFiles(CoreRoot(), "*.sql", SearchOption.AllDirectories)
            .Where(f => Relative(f).Split('/')[0] is not ("bin" or "obj"))
            .Order(StringComparer.Ordinal);

    private static string Relative(string file) => Path.GetRelativePath(CoreRoot(), file).Replace('\\', '/');

    private static string Folder(string file) => Relative(file).Split('/')[0];

    private static string Snake(string pascal) => Regex.Replace(pascal, "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant();

    private static string SqlWithoutComments(string sql) => Regex.Replace(sql, "--[^\n]*", "");

    /// <summary>
    /// The contents of the C# string literals in <paramref name="source"/>: regular, verbatim, raw (three or more
    /// quotes) and interpolated ones (with the code of their holes, where a helper would build SQL). Comments
    /// and character literals are skipped.
    /// </summary>
    internal static List<string> StringLiterals(string source)
    {
        var literals = new List<string>();
        var i = 0;
        while (i < source.Length)
        {
            var c = source[i];
            if (c == '/' && i + 1 < source.Length && source[i + 1] == '/')
            {
                i = source.IndexOf('\n', i) is var end and >= 0 ? end : source.Length;
            }
            else if (c == '/' && i + 1 < source.Length && source[i + 1] == '*')
            {
                i = source.IndexOf("*/", i + 2, StringComparison.Ordinal) is var end and >= 0 ? end + 2 : source.Length;
            }
            else if (c == '\'')
            {
                i = SkipCharLiteral(source, i);
            }
            else if (c == '"')
            {
                i = ReadString(source, i, literals);
            }
            else
            {
                i++;
            }
        }

        return literals;
    }

    private static int SkipCharLiteral(string source, int i)
    {
        var j = i + 1;
        while (j < source.Length && source[j] != '\'' && source[j] != '\n')
        {
            j += source[j] == '\\' ? 2 : 1;
        }

        return j + 1;
    }

    /// <summary>Reads the literal whose first quote is at <paramref name="start"/>; returns the index after it.</summary>
    private static int ReadString(string source, int start, List<string> literals)
    {
        var prefix = start;
        while (prefix > 0 && source[prefix - 1] is '$' or '@')
        {
            prefix--;
        }

        var interpolated = source[prefix..start].Contains('$', StringComparison.Ordinal);
        var verbatim = source[prefix..start].Contains('@', StringComparison.Ordinal);
        var quotes = 0;
        while (start + quotes < source.Length && source[start + quotes] == '"')
        {
            quotes++;
        }

        if (quotes >= 3)
        {
            var close = source.IndexOf(new string('"', quotes), start + quotes, StringComparison.Ordinal);
            close = close < 0 ? source.Length : close;
            literals.Add(source[(start + quotes)..close]);
            return Math.Min(source.Length, close + quotes);
        }

        if (quotes == 2 && !verbatim)
        {
            return start + 2;
        }

        var text = new StringBuilder();
        var i = start + 1;
        var depth = 0;
        while (i < source.Length)
        {
            var c = source[i];
            if (depth > 0 && c == '"')
            {
                i = ReadString(source, i, literals);
                continue;
            }

            if (depth > 0 && c == '\'')
            {
                var end = SkipCharLiteral(source, i);
                text.Append(source, i, Math.Min(end, source.Length) - i);
                i = end;
                continue;
            }

            if (depth == 0 && verbatim && c == '"')
            {
                if (i + 1 < source.Length && source[i + 1] == '"')
                {
                    text.Append('"');
                    i += 2;
                    continue;
                }

                break;
            }

            if (depth == 0 && !verbatim && c == '\\')
            {
                text.Append(source, i, Math.Min(2, source.Length - i));
                i += 2;
                continue;
            }

            if (depth == 0 && !verbatim && (c == '"' || c == '\n'))
            {
                break;
            }

            if (interpolated && c == '{')
            {
                if (depth == 0 && i + 1 < source.Length && source[i + 1] == '{')
                {
                    text.Append("{{");
                    i += 2;
                    continue;
                }

                depth++;
            }
            else if (interpolated && c == '}' && depth > 0)
            {
                depth--;
            }

            text.Append(c);
            i++;
        }

        literals.Add(text.ToString());
        return i + 1;
    }

    [GeneratedRegex(@"public static readonly string (\w+) =")]
    private static partial Regex OnlineSqlField();
}

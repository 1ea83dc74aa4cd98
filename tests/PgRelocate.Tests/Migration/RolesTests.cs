using Sql = PgRelocate.Connections.Db;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// migrate --roles into a target whose login role has CREATEROLE and CREATEDB but is no superuser: the roles the
/// database uses are created with their attributes, settings and memberships, and the target's owners and
/// privileges are the source's, as pg_dump reads them on both sides; check --roles says whether a target allows it.
/// </summary>
[Heavy(155)]
public class RolesTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Migrate_Roles_Gives_The_Target_The_Sources_Roles_Owners_And_Privileges()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "r15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);

        var check = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("may create roles (CREATEROLE)", check.Stdout, StringComparison.Ordinal);

        await RoleSource.MigrateAndCompareAsync(source, target, []);
    }

    [Fact]
    public async Task What_Owners_Revoked_From_Themselves_Is_Carried_And_Verify_Roles_Names_It_When_It_Differs()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "s15");
        var writer = source.Writer;
        // The issue's case, REVOKE UPDATE ON t FROM its owner: on a table of another role and on one of the login role.
        await servers.Source.ExecuteAsync(source.Db.Database, $"REVOKE UPDATE ON shop.ledger FROM {writer}; REVOKE UPDATE, DELETE, TRUNCATE ON shop.\"Customers\" FROM {Sql.Ident(source.Db.User)}");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);

        await RoleSource.MigrateAndCompareAsync(source, target, []);

        Assert.False(await PgServer.ScalarAsync<bool>(target, $"SELECT has_table_privilege('{writer}', 'shop.ledger', 'UPDATE') OR has_table_privilege('shop.\"Customers\"', 'UPDATE')"));
        Assert.True(await PgServer.ScalarAsync<bool>(target, $"SELECT has_table_privilege('{writer}', 'shop.ledger', 'INSERT') AND has_table_privilege('shop.\"Customers\"', 'INSERT')"));
        var same = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(same.ExitCode == 0, same.ToString());

        // Given back on the target, the owner's privilege is a difference verify --roles names.
        await servers.Target.ExecuteAsync(target.Database, $"GRANT UPDATE ON shop.ledger TO {writer}");
        var differ = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(differ.ExitCode == 3, differ.ToString());
        Assert.Contains("privileges TABLE shop.ledger: differs", differ.Stdout, StringComparison.Ordinal);
        // (The source's line, longer, is cut in the table: the target's has all but the UPDATE revoked from the writer.)
        Assert.Contains($"target: REFERENCES revoked from {writer}; SELECT to {target.User}; SELECT to {source.Roles[1]}; TRIGGER revoked from {writer}\n", differ.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Map_Role_Renames_A_Role_On_The_Way_Through_A_Direct_Copy()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "m15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        var renamed = source.Writer + "_new";

        await RoleSource.MigrateAndCompareAsync(source, target, ["--direct", "--map-role", $"{source.Writer}={renamed}"], new Dictionary<string, string> { [source.Writer] = renamed });

        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_roles WHERE rolname = '{source.Writer}'"));
        Assert.Equal(renamed, await PgServer.ScalarAsync<string>(target, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'ledger'"));
    }

    [Fact]
    public async Task A_Source_Read_As_Superuser_Gives_The_Created_Roles_Their_Passwords_Without_Showing_Them()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "p15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        var asSuperuser = servers.Source.Cluster.Superuser(source.Db.Database);
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--roles", "--source", CliRunner.Url(asSuperuser), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        // The database's owner on the source is a role like any other here: created on the target with its password, owning its objects.
        var password = new Npgsql.NpgsqlConnectionStringBuilder(source.Db.ToNpgsqlConnectionString()).Password;
        var asOwner = target.WithCredentials(source.Db.User, password);
        Assert.Equal(source.Db.User, await PgServer.ScalarAsync<string>(asOwner, "SELECT current_user::text"));
        Assert.Equal(source.Db.User, await PgServer.ScalarAsync<string>(target, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'orders'"));
        var written = result.Output + string.Concat(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.DoesNotContain("SCRAM-SHA-256$", written, StringComparison.Ordinal);
        Secrets.AssertAbsent(written, "the migration's output and folder");
    }

    [Fact]
    public async Task A_Role_The_Target_Has_With_Other_Attributes_Is_Reused_Unaltered_And_Reported()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "d15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        var reporter = source.Roles[2];
        await servers.Target.ExecuteAsync("postgres", $"CREATE ROLE {reporter} NOLOGIN CONNECTION LIMIT 3");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"role {reporter} reused, differs: the target has it, not altered: login False on the target, True on the source; inherit True on the target, False on the source; connection limit 3 on the target, -1 on the source", result.Output, StringComparison.Ordinal);
        Assert.False(await PgServer.ScalarAsync<bool>(target, $"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{reporter}'"));
        // Its memberships and grants are given all the same, and its setting in this database, which it lacked.
        Assert.True(await PgServer.ScalarAsync<bool>(target, $"SELECT pg_has_role('{reporter}', '{source.Roles[1]}', 'MEMBER') AND has_database_privilege('{reporter}', current_database(), 'CONNECT')"));
        Assert.Contains($"setting work_mem=8MB given in database {target.Database}", result.Output, StringComparison.Ordinal);
        Assert.Equal("{work_mem=8MB}", await PgServer.ScalarAsync<string>(target, $"SELECT s.setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database() AND s.setrole = '{reporter}'::regrole"));
        // Its other attributes differ: the verify step warns, and the migration does not fail on it.
        Assert.Contains($"role {reporter} differs (reused unaltered)", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task A_Second_Migration_With_Roles_Into_The_Same_Target_Reuses_The_Roles_The_First_Created()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "t15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        await RoleSource.MigrateAndCompareAsync(source, target, []);

        using var dir = new TempDir();
        var again = await CliRunner.RunAsync("migrate", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);

        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("0 created, 5 reused", again.Output, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameOwnersAndPrivilegesAsync(source.Db, target);
    }

    [Fact]
    public async Task Check_Roles_On_A_Target_That_May_Not_Create_Roles_Blocks_And_Says_What_Is_Missing()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "h15");
        var target = await servers.Target.CreateDatabaseAsync("heroku_like");

        var check = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));

        Assert.True(check.ExitCode == 3, check.ToString());
        Assert.Contains($"--roles cannot work: {target.User} may not create roles (it has neither CREATEROLE nor SUPERUSER)", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("Ask the provider for CREATEROLE", check.Stdout, StringComparison.Ordinal);

        using var dir = new TempDir();
        var migrate = await CliRunner.RunAsync("migrate", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);
        Assert.True(migrate.ExitCode == 3, migrate.ToString());
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"));
    }

    [Fact]
    public async Task Map_Role_Of_A_Policy_Role_Is_Refused_Before_Anything_Is_Written()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "q15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--roles", "--map-role", $"{source.Roles[4]}=analysts", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"--map-role renames {source.Roles[4]}, which policy recent on shop.orders to {source.Roles[4]} names", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_roles WHERE rolname IN ('analysts', '{source.Roles[0]}')"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"));
    }

    [Fact]
    public async Task Map_Role_Without_Roles_Or_Not_Source_Equals_Target_Is_A_Usage_Error()
    {
        var malformed = await CliRunner.RunAsync("migrate", "--roles", "--map-role", "a", "--source", "postgres://u@127.0.0.1:1/a", "--target", "postgres://u@127.0.0.1:1/b", "--confirm", "b");
        Assert.True(malformed.ExitCode == 2, malformed.ToString());
        Assert.Contains("--map-role 'a' is not SOURCE=TARGET", malformed.Output, StringComparison.Ordinal);

        var result = await CliRunner.RunAsync("migrate", "--map-role", "a=b", "--source", "postgres://u@127.0.0.1:1/a", "--target", "postgres://u@127.0.0.1:1/b", "--confirm", "b");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--map-role renames roles that --roles creates", result.Output, StringComparison.Ordinal);

        var twice = await CliRunner.RunAsync("migrate", "--roles", "--map-role", "a=b", "--map-role", "a=c", "--source", "postgres://u@127.0.0.1:1/a", "--target", "postgres://u@127.0.0.1:1/b", "--confirm", "b");
        Assert.True(twice.ExitCode == 2, twice.ToString());
        Assert.Contains("--map-role names the source role 'a' twice", twice.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_Copy_And_Restore_Take_Roles_And_Map_Role_From_The_Same_Options()
    {
        // The same option objects: the same help text and parsing; RoleOptions.Get gives the same errors.
        foreach (var command in new[] { Cli.Commands.MigrateCommand.Create(), Cli.Commands.CopyCommand.Create(), Cli.Commands.RestoreCommand.Create() })
        {
            Assert.Contains(Cli.Commands.RoleOptions.Roles, command.Options);
            Assert.Contains(Cli.Commands.RoleOptions.MapRole, command.Options);
            Assert.Single(command.Options, o => o.Name == "--roles");
            Assert.Single(command.Options, o => o.Name == "--map-role");
        }

        var help = System.Text.RegularExpressions.Regex.Replace((await CliRunner.RunAsync("migrate", "--help")).Stdout, @"\s+", " ");
        Assert.Contains(Cli.Commands.RoleOptions.MapRole.Description!, help, StringComparison.Ordinal);
    }
}

/// <summary>The same with a PostgreSQL 17 target, where a CREATEROLE role needs membership with SET to give a role objects.</summary>
[Heavy(40)]
public class RolesPg17Tests(PgServer source, Pg17Server target) : IClassFixture<PgServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task Migrate_Roles_Into_PostgreSQL_17_Gives_The_Target_The_Sources_Roles_Owners_And_Privileges()
    {
        var db = await RoleSource.CreateAsync(source, "r17");
        var into = await RoleSource.CreateRoleTargetAsync(target);
        await RoleSource.MigrateAndCompareAsync(db, into, []);
    }

    [Fact]
    public async Task A_Role_Reused_Without_Admin_Option_Keeps_Its_Settings_And_The_Setting_In_The_Database_Is_Reported_Not_Given()
    {
        var db = await RoleSource.CreateAsync(source, "a17");
        var into = await RoleSource.CreateRoleTargetAsync(target);
        var reporter = db.Roles[2];
        // Made by a superuser: the login role has no ADMIN OPTION on it, which ALTER ROLE needs from PostgreSQL 16 on.
        await target.ExecuteAsync("postgres", $"CREATE ROLE {reporter} LOGIN NOINHERIT");
        var check = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(db.Db), "--target", CliRunner.Url(into));
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains($"may not give the settings in this database of roles the target has: {reporter} (work_mem=8MB)", check.Stdout, StringComparison.Ordinal);
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--roles", "--source", CliRunner.Url(db.Db), "--target", CliRunner.Url(into), "--confirm", into.Database, "--workdir", dir.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"setting work_mem in database {into.Database} left out", result.Output, StringComparison.Ordinal);
        Assert.Contains($"it needs ADMIN OPTION on {reporter}", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(into, $"SELECT count(*) FROM pg_db_role_setting WHERE setrole = '{reporter}'::regrole"));
        var verify = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(db.Db), "--target", CliRunner.Url(into));
        Assert.True(verify.ExitCode == 3, verify.ToString());
        Assert.Contains($"role {reporter}: differs", verify.Stdout, StringComparison.Ordinal);
    }
}

/// <summary>
/// The issue's source: a writer owning a table, a read-only NOLOGIN group with schema-wide SELECT and default
/// privileges and a LOGIN member, an analytics role with column grants, a policy to it, a per-role
/// statement_timeout, a connection limit and membership in a team role, an object of the team role, a function
/// only some may run, settings of two roles in the database (ALTER ROLE ... IN DATABASE), and privileges owners
/// revoked from themselves (a function's, a table's, a sequence's, a schema's, their future tables'): none the
/// online follow needs. Role names carry a suffix: roles belong to the whole server.
/// </summary>
internal sealed record RoleSource(PgConnectionInfo Db, string Writer, IReadOnlyList<string> Roles)
{
    public static async Task<RoleSource> CreateAsync(PgServer server, string suffix)
    {
        var s = "_" + suffix + "_" + Guid.NewGuid().ToString("N")[..4];
        string writer = "rt_writer" + s, readers = "rt_readers" + s, reporter = "rt_reporter" + s, team = "rt_team" + s, analytics = "rt Analytics" + s;
        await server.ExecuteAsync("postgres", $"""
            CREATE ROLE {writer} LOGIN CONNECTION LIMIT 7 VALID UNTIL '2031-01-01 00:00:00+00';
            CREATE ROLE {readers} NOLOGIN;
            CREATE ROLE {reporter} LOGIN NOINHERIT IN ROLE {readers};
            CREATE ROLE {team} NOLOGIN;
            CREATE ROLE "{analytics}" LOGIN;
            GRANT {team} TO "{analytics}" WITH ADMIN OPTION;
            ALTER ROLE "{analytics}" SET statement_timeout = '30s';
            ALTER ROLE {writer} SET search_path = shop, "$user", public;
            """);
        var db = await server.CreateDatabaseAsync("roles");
        var owner = Sql.Ident(db.User);
        await server.ExecuteAsync(db.Database, $"""
            CREATE SCHEMA shop AUTHORIZATION {owner};
            SET ROLE {owner};
            CREATE TABLE shop.orders (id serial PRIMARY KEY, customer text, total numeric, secret text);
            INSERT INTO shop.orders (customer, total, secret) SELECT 'c' || g, g * 1.5, md5(g::text) FROM generate_series(1, 50) g;
            CREATE TABLE shop."Customers" (id int PRIMARY KEY, name text);
            CREATE FUNCTION shop.recount() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM shop.orders';
            REVOKE EXECUTE ON FUNCTION shop.recount() FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION shop.recount() TO {writer};
            GRANT USAGE ON SCHEMA shop TO {readers}, {writer}, "{analytics}";
            GRANT SELECT ON ALL TABLES IN SCHEMA shop TO {readers};
            GRANT INSERT, UPDATE ON shop.orders TO {writer} WITH GRANT OPTION;
            ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO {readers};
            GRANT SELECT (id, total) ON shop.orders TO "{analytics}";
            ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;
            CREATE POLICY recent ON shop.orders FOR SELECT TO "{analytics}" USING (id > 10);
            RESET ROLE;
            CREATE TABLE shop.notes (id int, body text);
            INSERT INTO shop.notes VALUES (1, 'a');
            ALTER TABLE shop.notes OWNER TO {team};
            GRANT SELECT ON shop.notes TO {owner};
            CREATE TABLE shop.ledger (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, amount numeric);
            INSERT INTO shop.ledger (amount) VALUES (1), (2);
            ALTER TABLE shop.ledger OWNER TO {writer};
            GRANT SELECT ON shop.ledger TO {owner}, {readers};
            GRANT SELECT ON SEQUENCE shop.ledger_id_seq TO {owner};
            ALTER DEFAULT PRIVILEGES FOR ROLE {team} IN SCHEMA shop GRANT SELECT ON TABLES TO "{analytics}";
            CREATE SCHEMA team_space AUTHORIZATION {team};
            GRANT USAGE ON SCHEMA team_space TO {owner};
            GRANT CONNECT ON DATABASE {Sql.Ident(db.Database)} TO {reporter};
            ALTER ROLE {reporter} IN DATABASE {Sql.Ident(db.Database)} SET work_mem = '8MB';
            ALTER ROLE "{analytics}" IN DATABASE {Sql.Ident(db.Database)} SET search_path = shop, public;
            REVOKE EXECUTE ON FUNCTION shop.recount() FROM {owner};
            REVOKE TRIGGER, REFERENCES ON shop.ledger FROM {writer};
            REVOKE USAGE ON SEQUENCE shop.ledger_id_seq FROM {writer};
            REVOKE CREATE ON SCHEMA team_space FROM {team};
            ALTER DEFAULT PRIVILEGES FOR ROLE {team} REVOKE TRUNCATE ON TABLES FROM {team};
            """);
        return new RoleSource(db, writer, [writer, readers, reporter, team, analytics]);
    }

    /// <summary>A target database whose login role may create roles and databases, and is no superuser.</summary>
    public static async Task<PgConnectionInfo> CreateRoleTargetAsync(PgServer server)
    {
        var target = await server.CreateDatabaseAsync("createrole");
        await server.ExecuteAsync("postgres", $"ALTER ROLE {Sql.Ident(target.User)} CREATEROLE CREATEDB");
        return target;
    }

    /// <summary>Runs migrate --roles and compares the two sides: pg_dump with owners and privileges, the roles' attributes and memberships, the data.</summary>
    public static async Task MigrateAndCompareAsync(RoleSource source, PgConnectionInfo target, string[] more, IReadOnlyDictionary<string, string>? renames = null)
    {
        using var dir = new TempDir();
        var result = await CliRunner.RunAsync(["migrate", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, .. more], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Roles, owners and grants were carried (--roles)", result.Output, StringComparison.Ordinal);
        Secrets.AssertAbsent(result.Output, "the migration's output");
        await CompareAsync(source, target, renames);
        // The roles that log in were created without a password (the source's login role may not read them), and said so.
        Assert.Contains("no password (the source's are not readable)", result.Output + await File.ReadAllTextAsync(Directory.GetFiles(dir.Path, "journal.json", SearchOption.AllDirectories).Single()), StringComparison.Ordinal);
    }

    /// <summary>
    /// Compares the two sides, independently of the tool: pg_dump with owners and privileges and the catalogs'
    /// owners and ACLs (expecting the issue's lines among them), the rows, the roles' attributes and memberships.
    /// </summary>
    public static async Task CompareAsync(RoleSource source, PgConnectionInfo target, IReadOnlyDictionary<string, string>? renames = null)
    {
        string Map(string role) => renames?.GetValueOrDefault(role) ?? role;
        var (catalog, lines) = await DatabaseSnapshot.AssertSameOwnersAndPrivilegesAsync(source.Db, target, renames);
        var (team, analytics) = (source.Roles[3], source.Roles[4]);
        foreach (var expected in new[]
        {
            $"relation shop.notes owner {team} acl LOGIN=r/{team},{team}=arwdDxt/{team}", $"relation shop.ledger owner {Map(source.Writer)} acl",
            $"schema team_space owner {team} acl LOGIN=U/{team},{team}=U/{team}", $"default {team} shop r acl \"{analytics}\"=r/{team}",
            $"default {team} - r acl {team}=arwdxt/{team}", $"routine shop.recount owner LOGIN acl {Map(source.Writer)}=X/LOGIN",
            $"policy recent on shop.orders to {analytics}",
        })
        {
            Assert.True(catalog.Any(l => l.StartsWith(expected, StringComparison.Ordinal)), $"{expected} is not among the catalogs' lines:\n{string.Join("\n", catalog)}");
        }

        foreach (var expected in lines is null ? [] : new[]
        {
            $"ALTER TABLE shop.notes OWNER TO {team};", $"ALTER SCHEMA team_space OWNER TO {team};", $"ALTER TABLE shop.ledger OWNER TO {Map(source.Writer)};",
            "ALTER TABLE shop.orders OWNER TO LOGIN;", "GRANT SELECT ON TABLE shop.notes TO LOGIN;", $"GRANT SELECT(id) ON TABLE shop.orders TO \"{analytics}\";",
            $"ALTER DEFAULT PRIVILEGES FOR ROLE {team} IN SCHEMA shop GRANT SELECT ON TABLES  TO \"{analytics}\";",
            "REVOKE ALL ON FUNCTION shop.recount() FROM PUBLIC;", "REVOKE ALL ON FUNCTION shop.recount() FROM LOGIN;",
            $"REVOKE ALL ON TABLE shop.ledger FROM {Map(source.Writer)};", $"REVOKE ALL ON SEQUENCE shop.ledger_id_seq FROM {Map(source.Writer)};",
            $"GRANT SELECT,UPDATE ON SEQUENCE shop.ledger_id_seq TO {Map(source.Writer)};", $"REVOKE ALL ON SCHEMA team_space FROM {team};",
            $"GRANT USAGE ON SCHEMA team_space TO {team};", $"ALTER DEFAULT PRIVILEGES FOR ROLE {team} REVOKE ALL ON TABLES  FROM {team};",
            $"ALTER DEFAULT PRIVILEGES FOR ROLE {team} GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,UPDATE ON TABLES  TO {team};",
        })
        {
            Assert.True(lines!.Contains(expected), $"{expected} is not among the lines pg_dump wrote:\n{string.Join("\n", lines!.Where(l => l.StartsWith("ALTER ", StringComparison.Ordinal) || l.StartsWith("GRANT ", StringComparison.Ordinal) || l.StartsWith("REVOKE ", StringComparison.Ordinal)))}");
        }

        await DatabaseSnapshot.AssertSameAsync(source.Db, target);
        Assert.Equal(await RolesAsync(source.Db, source.Roles, r => r), await RolesAsync(target, source.Roles.Select(Map).ToList(), r => renames?.FirstOrDefault(x => x.Value == r).Key ?? r));
    }

    /// <summary>Each role's attributes and settings, and its memberships among <paramref name="roles"/>, named back by <paramref name="back"/>.</summary>
    private static async Task<List<string>> RolesAsync(PgConnectionInfo db, IReadOnlyList<string> roles, Func<string, string> back)
    {
        var list = string.Join(", ", roles.Select(Sql.Literal));
        var lines = new List<string>();
        await using var conn = new Npgsql.NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        lines.AddRange(await Sql.ListAsync(conn, $"""
            SELECT rolname || ' login=' || rolcanlogin || ' inherit=' || rolinherit || ' limit=' || rolconnlimit || ' until=' || coalesce(rolvaliduntil::text, '')
                   || ' super=' || rolsuper || ' config=' || coalesce(array_to_string(rolconfig, ','), '')
            FROM pg_roles WHERE rolname IN ({list})
            """, r => r.GetString(0), CancellationToken.None));
        lines.AddRange(await Sql.ListAsync(conn, $"""
            SELECT m.rolname || ' member of ' || g.rolname || ' admin=' || a.admin_option
            FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid
            WHERE m.rolname IN ({list}) AND g.rolname IN ({list})
            """, r => r.GetString(0), CancellationToken.None));
        return [.. lines.Select(l => roles.Aggregate(l, (t, r) => t.Replace(r, back(r), StringComparison.Ordinal))).Order(StringComparer.Ordinal)];
    }
}

using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// Roles are not migrated: `check` lists every grant, default privilege, policy role and role the database uses,
/// and the cutover summary writes them as a script (grants.sql) that, run on the target, gives it the source's
/// privileges, as pg_dump reads them on both sides.
/// </summary>
public class GrantScriptTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    /// <summary>The roles of the source database, created on its server.</summary>
    private const string Roles = """
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gs_writer') THEN
            CREATE ROLE gs_writer LOGIN;
            CREATE ROLE gs_readers NOLOGIN;
            CREATE ROLE gs_reporter LOGIN IN ROLE gs_readers;
            CREATE ROLE gs_team NOLOGIN;
            CREATE ROLE "gs Analytics" LOGIN IN ROLE gs_team;
          END IF;
        END $$;
        """;

    /// <summary>A writer, a read-only group with schema-wide SELECT and default privileges and a member logging in, an analytics role with column grants and a policy to it, an object of a team role, a function only some may run.</summary>
    private async Task<PgConnectionInfo> SourceAsync()
    {
        await servers.Source.ExecuteAsync("postgres", Roles);
        var db = await servers.Source.CreateDatabaseAsync("grants");
        var owner = Db.Ident(db.User);
        await servers.Source.ExecuteAsync(db.Database, $"""
            CREATE SCHEMA shop AUTHORIZATION {owner};
            SET ROLE {owner};
            CREATE TABLE shop.orders (id int PRIMARY KEY, customer text, total numeric, secret text);
            INSERT INTO shop.orders SELECT g, 'c' || g, g * 1.5, md5(g::text) FROM generate_series(1, 50) g;
            CREATE TABLE shop."Customers" (id int PRIMARY KEY, name text);
            CREATE FUNCTION shop.recount() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM shop.orders';
            REVOKE EXECUTE ON FUNCTION shop.recount() FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION shop.recount() TO gs_writer;
            GRANT USAGE ON SCHEMA shop TO gs_readers, gs_writer, "gs Analytics";
            GRANT SELECT ON ALL TABLES IN SCHEMA shop TO gs_readers;
            GRANT INSERT, UPDATE ON shop.orders TO gs_writer WITH GRANT OPTION;
            ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO gs_readers;
            GRANT SELECT (id, total) ON shop.orders TO "gs Analytics";
            ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;
            CREATE POLICY recent ON shop.orders FOR SELECT TO "gs Analytics" USING (id > 10);
            CREATE TABLE shop.notes (id int, body text);
            RESET ROLE;
            ALTER TABLE shop.notes OWNER TO gs_team;
            GRANT SELECT ON shop.notes TO {owner};
            GRANT CONNECT ON DATABASE {Db.Ident(db.Database)} TO gs_reporter;
            ALTER ROLE gs_reporter IN DATABASE {Db.Ident(db.Database)} SET work_mem = '8MB';
            """);
        return db;
    }

    [Fact]
    public async Task Check_Lists_Every_Grant_Default_Privilege_Policy_Role_And_Role_Not_Carried_And_Blocks_On_A_Policy_Role_The_Target_Lacks()
    {
        var source = await SourceAsync();
        var auditor = "gs_auditor_" + Guid.NewGuid().ToString("N")[..6];
        await servers.Source.ExecuteAsync(source.Database, $"CREATE ROLE {auditor} NOLOGIN; CREATE POLICY audit ON shop.orders FOR SELECT TO {auditor} USING (true);");
        var target = await servers.Target.CreateDatabaseAsync("heroku_like");

        var result = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--json");

        Assert.True(result.ExitCode == 3, result.ToString());
        var json = result.Stdout;
        foreach (var expected in new[]
        {
            "SELECT on TABLE shop.orders to gs_readers",
            "INSERT WITH GRANT OPTION on TABLE shop.orders to gs_writer", "SELECT on COLUMN shop.orders.total to gs Analytics",
            "EXECUTE on ROUTINE shop.recount() revoked from PUBLIC", "EXECUTE on ROUTINE shop.recount() to gs_writer",
            "USAGE on SCHEMA shop to gs_readers", "CONNECT on the database to gs_reporter",
            "SELECT on future tables of " + source.User + " in schema shop to gs_readers",
            "policy recent on shop.orders to gs Analytics",
            "gs_reporter (login, member of gs_readers, in this database: work_mem=8MB)", "gs_team (no login)",
        })
        {
            Assert.Contains(expected, json, StringComparison.Ordinal);
        }

        // Roles belong to the cluster: whether the target has "gs Analytics" depends on the tests that ran before.
        Assert.Matches($"the target lacks [^:\"]*{auditor}[^:\"]*: the restore would fail on those policies", json);
        Assert.DoesNotContain("to " + source.User + "\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_Script_Gives_A_Target_That_May_Create_Roles_The_Sources_Privileges_As_Pg_Dump_Reads_Them()
    {
        var source = await SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("createrole");
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CREATEROLE");
        // The policy's role must exist before the restore; the script creates the others.
        await servers.Target.ExecuteAsync("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gs Analytics') THEN CREATE ROLE \"gs Analytics\" LOGIN; END IF; END $$;");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        var script = Directory.GetFiles(dir.Path, "grants.sql", SearchOption.AllDirectories).Single();
        var text = await File.ReadAllTextAsync(script);
        Assert.Contains("CREATE ROLE \"gs_readers\" NOLOGIN;", text, StringComparison.Ordinal);
        Assert.Contains("-- CREATE ROLE \"gs Analytics\" LOGIN; (the target has it)", text, StringComparison.Ordinal);
        Assert.Contains("GRANT \"gs_readers\" TO \"gs_reporter\";", text, StringComparison.Ordinal);
        Assert.Contains($"ALTER ROLE \"gs_reporter\" IN DATABASE {Db.Ident(target.Database)} SET \"work_mem\" TO '8MB';", text, StringComparison.Ordinal);
        Assert.Contains("grants.sql holds", result.Output, StringComparison.Ordinal);
        Secrets.AssertAbsent(text, "the grant script");

        await PgServer.ExecuteAsync(target, text);

        Assert.Equal(await DatabaseSnapshot.PrivilegeLinesAsync(source), await DatabaseSnapshot.PrivilegeLinesAsync(target));
        Assert.Equal(["work_mem=8MB"], await PgServer.ScalarAsync<string[]>(target,
            "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database() AND s.setrole = 'gs_reporter'::regrole") ?? []);
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task On_A_Target_That_May_Not_Create_Roles_The_Script_Names_The_Credentials_And_Gives_A_Groups_Grants_To_Its_Members()
    {
        var source = await SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("heroku_like");
        // The credentials heroku pg:credentials:create would make: login roles of the same names.
        await servers.Target.ExecuteAsync("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gs Analytics') THEN CREATE ROLE \"gs Analytics\" LOGIN; END IF; END $$;");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        var text = await File.ReadAllTextAsync(Directory.GetFiles(dir.Path, "grants.sql", SearchOption.AllDirectories).Single());
        Assert.Contains("heroku pg:credentials:create DATABASE --name gs_reporter --app APP", text, StringComparison.Ordinal);
        Assert.DoesNotContain("CREATE ROLE", text, StringComparison.Ordinal);
        Assert.DoesNotContain("GRANT \"gs_readers\" TO", text, StringComparison.Ordinal);
        // ALTER ROLE needs CREATEROLE: the settings in the database are listed, for the provider to give.
        Assert.Contains($"--   ALTER ROLE \"gs_reporter\" IN DATABASE {Db.Ident(target.Database)} SET \"work_mem\" TO '8MB';", text, StringComparison.Ordinal);

        await servers.Target.ExecuteAsync("postgres", """
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gs_reporter') THEN
                CREATE ROLE gs_reporter LOGIN; CREATE ROLE gs_readers LOGIN; CREATE ROLE gs_writer LOGIN; CREATE ROLE gs_team LOGIN;
              END IF;
            END $$;
            """);
        await PgServer.ExecuteAsync(target, text);

        // gs_reporter reads what its group reads on the source, by a grant of its own; the analytics role only its columns.
        Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT has_table_privilege('gs_reporter', 'shop.orders', 'SELECT') AND has_table_privilege('gs_reporter', 'shop.\"Customers\"', 'SELECT')"));
        Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT has_column_privilege('gs Analytics', 'shop.orders', 'total', 'SELECT') AND NOT has_column_privilege('gs Analytics', 'shop.orders', 'secret', 'SELECT')"));
        Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT has_function_privilege('gs_writer', 'shop.recount()', 'EXECUTE') AND NOT has_function_privilege('gs_reporter', 'shop.recount()', 'EXECUTE')"));
        Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT has_database_privilege('gs_reporter', current_database(), 'CONNECT')"));
    }
}

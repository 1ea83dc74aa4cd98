using Sql = PgRelocate.Connections.Db;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// --roles and the attributes only some may give: SUPERUSER, REPLICATION and BYPASSRLS are carried only with
/// --roles-with-privileged-attributes, and named otherwise; memberships in predefined roles are carried where the
/// login role may grant them and named (and written in grants.sql) where not; a reused role says which attributes
/// differ; verify --roles lists what --roles chose apart from its failures. Each side is read with plain SQL.
/// Role names carry a suffix and are dropped at the end: roles belong to the whole server.
/// </summary>
[Heavy(90)]
public class RolesPrivilegedTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task A_Superuser_Target_Creates_Privileged_Roles_Without_Their_Attributes_Unless_Asked_And_Says_So()
    {
        var s = "_" + Guid.NewGuid().ToString("N")[..6];
        string su = "pv_su" + s, repl = "pv_repl" + s, byp = "pv_byp" + s, mon = "pv_mon" + s;
        await servers.Source.ExecuteAsync("postgres", $"CREATE ROLE {su} LOGIN SUPERUSER; CREATE ROLE {repl} LOGIN REPLICATION; CREATE ROLE {byp} NOLOGIN BYPASSRLS; CREATE ROLE {mon} LOGIN; GRANT pg_monitor TO {mon};");
        var source = await servers.Source.CreateDatabaseAsync("priv");
        await servers.Source.ExecuteAsync(source.Database, $"SET ROLE {Sql.Ident(source.User)}; CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2); GRANT SELECT ON public.t TO {su}, {repl}, {byp}, {mon};");
        var targets = new List<PgConnectionInfo>();
        string[] renamed = [su + "_2", repl + "_2", byp + "_2"];
        try
        {
            // Into a database whose login role is a superuser: every attribute could be given.
            var first = await SuperuserTargetAsync();
            targets.Add(first);
            var check = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(first));
            Assert.True(check.ExitCode == 0, check.ToString());
            Assert.Contains($"3 roles to create have privileged attributes on the source, which --roles leaves out: {byp} (BYPASSRLS); {repl} (REPLICATION); {su} (SUPERUSER)", check.Stdout, StringComparison.Ordinal);
            Assert.Contains("warn  roles: ", check.Stdout, StringComparison.Ordinal);

            var plain = await MigrateAsync(source, first, []);
            Assert.Contains($"role {su} created: created without SUPERUSER, which the source's has: --roles gives them only with --roles-with-privileged-attributes", plain.Output, StringComparison.Ordinal);
            Assert.Contains("3 without the SUPERUSER, REPLICATION or BYPASSRLS of the source's", plain.Output, StringComparison.Ordinal);
            Assert.Equal($"{byp} f f f|{mon} f f f|{repl} f f f|{su} f f f", await AttributesAsync(first, [su, repl, byp, mon]));
            // The login role, a superuser, may grant pg_monitor: the membership is carried.
            Assert.True(await PgServer.ScalarAsync<bool>(first, $"SELECT EXISTS (SELECT FROM pg_auth_members a WHERE a.member = '{mon}'::regrole AND a.roleid = 'pg_monitor'::regrole)"));

            // verify --roles names the attributes left out as --roles' choice, and fails on them once they were asked for.
            var verify = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(first));
            Assert.True(verify.ExitCode == 0, verify.ToString());
            Assert.Contains("Differences --roles chose (expected, not a failure)", verify.Stdout, StringComparison.Ordinal);
            Assert.Contains($"role {su}: expected, --roles gives SUPERUSER, REPLICATION and BYPASSRLS only with --roles-with-privileged-attributes", verify.Stdout, StringComparison.Ordinal);
            var asked = await CliRunner.RunAsync("verify", "--roles", "--roles-with-privileged-attributes", "--source", CliRunner.Url(source), "--target", CliRunner.Url(first));
            Assert.True(asked.ExitCode == 3, asked.ToString());
            Assert.Contains($"role {su}: differs", asked.Stdout, StringComparison.Ordinal);

            // Asked for (and renamed, the first names being taken): given as on the source, and said.
            var second = await SuperuserTargetAsync();
            targets.Add(second);
            string[] maps = ["--map-role", $"{su}={renamed[0]}", "--map-role", $"{repl}={renamed[1]}", "--map-role", $"{byp}={renamed[2]}"];
            var withThem = await MigrateAsync(source, second, ["--roles-with-privileged-attributes", .. maps]);
            Assert.Contains($"role {renamed[0]} created: given SUPERUSER as on the source (--roles-with-privileged-attributes)", withThem.Output, StringComparison.Ordinal);
            Assert.Equal($"{renamed[2]} f f t|{renamed[1]} f t f|{renamed[0]} t f f", await AttributesAsync(second, renamed));
            var same = await CliRunner.RunAsync(["verify", "--roles", "--roles-with-privileged-attributes", .. maps, "--source", CliRunner.Url(source), "--target", CliRunner.Url(second)]);
            Assert.True(same.ExitCode == 0, same.ToString());
            Assert.DoesNotContain("Differences --roles chose", same.Stdout, StringComparison.Ordinal);

            // Found again without them, the roles are reused unaltered, and the attributes that differ are named.
            var third = await SuperuserTargetAsync();
            targets.Add(third);
            var reused = await MigrateAsync(source, third, []);
            Assert.Contains($"role {su} reused, differs: the target has it, not altered: superuser False on the target, True on the source", reused.Output, StringComparison.Ordinal);
            Assert.Contains($"role {mon} reused: the target has it, with the same attributes", reused.Output, StringComparison.Ordinal);
        }
        finally
        {
            await DropAsync(servers.Target, targets, [su, repl, byp, mon, .. renamed]);
            await DropAsync(servers.Source, [source], [su, repl, byp, mon]);
        }
    }

    [Fact]
    public async Task Map_Role_Mistakes_Are_Refused_With_Exit_2_Before_Any_Change_And_An_Unused_Rename_Is_Named()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "x18");
        var unused = "pm_unused_" + Guid.NewGuid().ToString("N")[..6];
        await servers.Source.ExecuteAsync("postgres", $"CREATE ROLE {unused} NOLOGIN");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        try
        {
            // A role of the source server the database does not use: another database may, so a warning names it.
            var named = await CliRunner.RunAsync("check", "--roles", "--map-role", $"{unused}=pm_other", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
            Assert.True(named.ExitCode == 0, named.ToString());
            Assert.Contains($"--map-role {unused}=pm_other renames nothing here: the database uses no role {unused}", named.Stdout, StringComparison.Ordinal);

            await PgServer.ExecuteAsync(target, "CREATE TABLE public.marker (id int); INSERT INTO public.marker VALUES (1), (2)");
            var roles = await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_roles");
            var superuser = await PgServer.ScalarAsync<string>(target, "SELECT rolname::text FROM pg_roles WHERE oid = 10");
            var (writer, readers, team) = (source.Writer, source.Roles[1], source.Roles[3]);
            var cases = new (string[] Maps, string Says)[]
            {
                ([$"{writer}={superuser}"], $"--map-role {writer}={superuser}: {superuser} is a superuser on the target and {target.User} is not"),
                ([$"{writer}=pg_monitor"], $"--map-role {writer}=pg_monitor: pg_monitor is a name PostgreSQL reserves"),
                ([$"{writer}=pm_one", $"{team}=pm_one"], $"--map-role gives {team} and {writer} the one name pm_one on the target"),
                ([$"{writer}={readers}"], $"--map-role gives {readers} and {writer} the one name {readers} on the target"),
                (["pm_nosuchrole=pm_foo"], "--map-role pm_nosuchrole=pm_foo: the source server has no role pm_nosuchrole"),
                ([$"{source.Db.User}=pm_foo"], $"--map-role {source.Db.User}=pm_foo renames {source.Db.User}, the source's login role"),
            };
            foreach (var (maps, says) in cases)
            {
                using var dir = new TempDir();
                var result = await CliRunner.RunAsync(["migrate", "--roles", .. maps.SelectMany(m => new[] { "--map-role", m }), "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path]);
                Assert.True(result.ExitCode == 2, result.ToString());
                Assert.Contains(says, result.Output, StringComparison.Ordinal);
                Assert.Equal(2L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM public.marker"));
                Assert.Equal(roles, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_roles"));
            }

            // copy and check refuse the same way.
            var copy = await CliRunner.RunAsync("copy", "--roles", "--map-role", $"{writer}=pg_monitor", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target), "--confirm", target.Database);
            Assert.True(copy.ExitCode == 2, copy.ToString());
            Assert.Equal(2L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM public.marker"));
            Assert.Equal(roles, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_roles"));
            var check = await CliRunner.RunAsync("check", "--roles", "--map-role", "pm_nosuchrole=pm_foo", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
            Assert.True(check.ExitCode == 2, check.ToString());
            Assert.Contains("the source server has no role pm_nosuchrole", check.Output, StringComparison.Ordinal);
            var verify = await CliRunner.RunAsync("verify", "--roles", "--map-role", $"{writer}=pm_one", "--map-role", $"{team}=pm_one", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
            Assert.True(verify.ExitCode == 2, verify.ToString());
            Assert.Contains($"--map-role gives {team} and {writer} the one name pm_one on the target", verify.Output, StringComparison.Ordinal);

        }
        finally
        {
            await DropAsync(servers.Target, [target], []);
            await DropAsync(servers.Source, [source.Db], [.. source.Roles, unused]);
        }
    }

    /// <summary>A target database owned by the server's superuser, as it logs in: its public schema is its login role's, as on the source.</summary>
    private async Task<PgConnectionInfo> SuperuserTargetAsync()
    {
        var db = await servers.Target.CreateDatabaseAsync("privt");
        var superuser = servers.Target.Cluster.Superuser(db.Database);
        await servers.Target.ExecuteAsync("postgres", $"ALTER DATABASE {Sql.Ident(db.Database)} OWNER TO {Sql.Ident(superuser.User)}");
        await servers.Target.ExecuteAsync(db.Database, $"ALTER SCHEMA public OWNER TO {Sql.Ident(superuser.User)}");
        return superuser;
    }

    internal static async Task<CliResult> MigrateAsync(PgConnectionInfo source, PgConnectionInfo target, string[] more, string? workdir = null)
    {
        using var dir = new TempDir();
        var result = await CliRunner.RunAsync(["migrate", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", workdir ?? dir.Path, .. more]);
        Assert.True(result.ExitCode == 0, result.ToString());

        return result;
    }

    /// <summary>"name super replication bypassrls|..." of the roles, sorted, from pg_roles.</summary>
    private static Task<string?> AttributesAsync(PgConnectionInfo db, IEnumerable<string> roles) =>
        PgServer.ScalarAsync<string>(db, $"""
            SELECT string_agg(rolname || ' ' || left(rolsuper::text, 1) || ' ' || left(rolreplication::text, 1) || ' ' || left(rolbypassrls::text, 1), '|' ORDER BY rolname)
            FROM pg_roles WHERE rolname IN ({string.Join(", ", roles.Select(Sql.Literal))})
            """);

    /// <summary>Drops the databases, then the roles (theirs gone with them).</summary>
    internal static async Task DropAsync(PgServer server, IEnumerable<PgConnectionInfo> databases, IEnumerable<string> roles)
    {
        foreach (var db in databases)
        {
            await server.ExecuteAsync("postgres", $"DROP DATABASE IF EXISTS {Sql.Ident(db.Database)} WITH (FORCE)");
        }

        foreach (var role in roles)
        {
            await server.ExecuteAsync("postgres", $"DROP ROLE IF EXISTS {Sql.Ident(role)}");
        }
    }
}

/// <summary>
/// Into PostgreSQL 17, whose CREATEROLE login role may not grant predefined roles (it needs ADMIN OPTION on them): a
/// superuser's table the login role keeps is a difference verify --roles names as --roles' choice, and a membership
/// in pg_read_all_data it may not grant is named by check, the roles step and the verify step, and written in grants.sql.
/// </summary>
[Heavy(40)]
public class RolesKeptPg17Tests(PgServer from, Pg17Server to) : IClassFixture<PgServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task A_Superusers_Table_Kept_By_The_Login_Role_Is_A_Chosen_Difference_And_Predefined_Roles_It_May_Not_Grant_Are_Named()
    {
        var s = "_" + Guid.NewGuid().ToString("N")[..6];
        string su = "pk_su" + s, reader = "pk_reader" + s;
        await from.ExecuteAsync("postgres", $"CREATE ROLE {su} NOLOGIN SUPERUSER; CREATE ROLE {reader} LOGIN; GRANT pg_read_all_data TO {reader};");
        var source = await from.CreateDatabaseAsync("kept");
        var owner = Sql.Ident(source.User);
        await from.ExecuteAsync(source.Database, $"""
            CREATE SCHEMA s AUTHORIZATION {owner};
            SET ROLE {su};
            CREATE TABLE s.su_t (id int PRIMARY KEY);
            INSERT INTO s.su_t VALUES (1), (2), (3);
            GRANT SELECT ON s.su_t TO {owner};
            SET ROLE {owner};
            CREATE TABLE s.t (id int PRIMARY KEY);
            GRANT USAGE ON SCHEMA s TO {reader};
            GRANT SELECT ON s.t TO {reader};
            """);
        var target = await RoleSource.CreateRoleTargetAsync(to);
        var login = target.User;
        try
        {
            var check = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
            Assert.True(check.ExitCode == 0, check.ToString());
            Assert.Contains($"{login} may not grant the memberships in predefined roles of {reader} in pg_read_all_data", check.Stdout, StringComparison.Ordinal);

            await PgServer.ExecuteAsync(target, "CREATE TABLE public.marker (id int); INSERT INTO public.marker VALUES (1), (2)");
            var roles = await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_roles");

            // Asked for SUPERUSER the login role may not give: refused before anything changes.
            using (var refusedDir = new TempDir())
            {
                var refused = await CliRunner.RunAsync("migrate", "--roles", "--roles-with-privileged-attributes", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", refusedDir.Path);
                Assert.True(refused.ExitCode == 3, refused.ToString());
                Assert.Contains($"--roles-with-privileged-attributes: {login} may not give SUPERUSER to {su}", refused.Output, StringComparison.Ordinal);
                Assert.Equal(2L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM public.marker"));
                Assert.Equal(roles, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_roles"));
            }

            using var dir = new TempDir();
            var migrate = await RolesPrivilegedTests.MigrateAsync(source, target, [], dir.Path);
            Assert.Contains($"role {reader} not member of pg_read_all_data: {login} may not grant pg_read_all_data", migrate.Output, StringComparison.Ordinal);
            Assert.Contains($"membership {reader} in pg_read_all_data missing on the target", migrate.Output, StringComparison.Ordinal);
            var grants = await File.ReadAllLinesAsync(Directory.GetFiles(dir.Path, "grants.sql", SearchOption.AllDirectories).Single());
            Assert.Contains($"GRANT \"pg_read_all_data\" TO \"{reader}\";", grants);
            Assert.False(await PgServer.ScalarAsync<bool>(target, $"SELECT pg_has_role('{reader}', 'pg_read_all_data', 'MEMBER')"));
            // The superuser's table stays the login role's, which may read it.
            Assert.Equal(login, await PgServer.ScalarAsync<string>(target, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 's' AND tablename = 'su_t'"));
            Assert.True(await PgServer.ScalarAsync<bool>(target, "SELECT has_table_privilege('s.su_t', 'SELECT')"));

            // grants.sql run as a superuser, as it says: verify --roles then passes, naming what --roles chose.
            await to.ExecuteAsync(target.Database, string.Join("\n", grants));
            Assert.True(await PgServer.ScalarAsync<bool>(target, $"SELECT pg_has_role('{reader}', 'pg_read_all_data', 'MEMBER')"));
            var verify = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
            Assert.True(verify.ExitCode == 0, verify.ToString());
            Assert.Contains($"owner TABLE s.su_t: expected, {login} is no superuser: --roles leaves the objects of a superuser of the source to it", verify.Stdout, StringComparison.Ordinal);
            Assert.Contains("privileges TABLE s.su_t: expected", verify.Stdout, StringComparison.Ordinal);
            Assert.Contains($"source: SELECT to {login}", verify.Stdout, StringComparison.Ordinal);
            Assert.Contains("(3 expected differences --roles chose, listed above)", verify.Stdout, StringComparison.Ordinal);

            // A grant no choice explains is a difference all the same.
            await to.ExecuteAsync(target.Database, $"GRANT INSERT ON s.su_t TO {reader}");
            var differ = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
            Assert.True(differ.ExitCode == 3, differ.ToString());
            Assert.Contains("privileges TABLE s.su_t: differs", differ.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await RolesPrivilegedTests.DropAsync(to, [target], [su, reader]);
            await RolesPrivilegedTests.DropAsync(from, [source], [su, reader]);
        }
    }

}

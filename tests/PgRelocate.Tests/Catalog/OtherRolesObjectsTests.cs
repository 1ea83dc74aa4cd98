using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Targets;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>
/// Emptying a target never cascades into what another role owns: an object of another role that depends on
/// one of the login role's (a view on its table, a trigger calling its function, a foreign key to its table,
/// a function taking its type, ...) is found before anything is dropped, named with its owner, and the run
/// refuses with exit 1 and "Nothing was changed.". The target is compared before and after as its superuser,
/// from the catalogs and without PgRelocate's code (every object and row, and the other role's objects by
/// oid). And a lock held by another role's session, whose details pg_stat_activity hides from the login
/// role, ends in a refusal naming that session, not a crash.
/// </summary>
[Heavy(145)]
public class OtherRolesObjectsTests(PgServer server) : IClassFixture<PgServer>
{
    /// <summary>The login role's objects in the target, on which the other role's objects depend.</summary>
    private const string OwnObjects = """
        CREATE SCHEMA shop;
        CREATE TABLE shop.orders (id int PRIMARY KEY);
        INSERT INTO shop.orders VALUES (1), (2), (3);
        CREATE TYPE shop.mood AS ENUM ('ok', 'meh');
        CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
        CREATE FUNCTION shop.twice(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
        CREATE TABLE public.notes (id int PRIMARY KEY);
        """;

    /// <summary>
    /// Each case: what the target's superuser makes and gives to another role ({owner}), and the kind and
    /// qualified name the refusal must give it.
    /// </summary>
    public static TheoryData<string, string, string> Dependents => new()
    {
        { "view", "CREATE VIEW public.iv AS SELECT id FROM shop.orders; ALTER VIEW public.iv OWNER TO {owner}", "view public.iv" },
        { "view on a table in public", "CREATE VIEW public.nv AS SELECT id FROM public.notes; ALTER VIEW public.nv OWNER TO {owner}", "view public.nv" },
        { "materialized view", "CREATE MATERIALIZED VIEW public.im AS SELECT id FROM shop.orders; ALTER MATERIALIZED VIEW public.im OWNER TO {owner}", "materialized view public.im" },
        {
            "rule", """
            CREATE TABLE public.log (id int);
            CREATE RULE copy_out AS ON INSERT TO public.log DO ALSO INSERT INTO shop.orders VALUES (NEW.id);
            ALTER TABLE public.log OWNER TO {owner}
            """, "rule copy_out on public.log"
        },
        {
            "policy", """
            CREATE TABLE public.secrets (id int);
            CREATE POLICY known ON public.secrets USING (id IN (SELECT id FROM shop.orders));
            ALTER TABLE public.secrets OWNER TO {owner}
            """, "policy known on public.secrets"
        },
        {
            "trigger", """
            CREATE TABLE public.audit (id int);
            CREATE TRIGGER stamp BEFORE INSERT ON public.audit FOR EACH ROW EXECUTE FUNCTION shop.touch();
            ALTER TABLE public.audit OWNER TO {owner}
            """, "trigger stamp on public.audit"
        },
        {
            "foreign key", """
            CREATE TABLE public.refs (order_id int CONSTRAINT refs_order REFERENCES shop.orders (id));
            ALTER TABLE public.refs OWNER TO {owner}
            """, "table constraint refs_order on public.refs"
        },
        { "function using a type", "CREATE FUNCTION public.mood_of(shop.mood) RETURNS text LANGUAGE sql AS 'SELECT $1::text'; ALTER FUNCTION public.mood_of(shop.mood) OWNER TO {owner}", "function public.mood_of(shop.mood)" },
        { "domain", "CREATE DOMAIN public.happy AS shop.mood; ALTER DOMAIN public.happy OWNER TO {owner}", "domain public.happy" },
        {
            "index", """
            CREATE TABLE public.things (id int);
            CREATE INDEX things_twice ON public.things (shop.twice(id));
            ALTER TABLE public.things OWNER TO {owner}
            """, "index public.things_twice"
        },
        { "column of a type", "CREATE TABLE public.moods (id int, m shop.mood); ALTER TABLE public.moods OWNER TO {owner}", "table column public.moods.m" },
        { "default", "CREATE TABLE public.defaults (id int DEFAULT shop.twice(1)); ALTER TABLE public.defaults OWNER TO {owner}", "default value for public.defaults.id" },
        { "inheriting table", "CREATE TABLE public.child () INHERITS (shop.orders); ALTER TABLE public.child OWNER TO {owner}", "table public.child" },
        { "publication of the login role's table", "CREATE PUBLICATION others_pub FOR TABLE shop.orders; ALTER PUBLICATION others_pub OWNER TO {owner}", "publication others_pub" },
        { "publication of nothing", "CREATE PUBLICATION lone_pub; ALTER PUBLICATION lone_pub OWNER TO {owner}", "publication lone_pub" },
    };

    [Theory]
    [MemberData(nameof(Dependents))]
    public async Task Should_Refuse_And_Change_Nothing_When_Emptying_Would_Drop_Another_Roles_Object(string what, string sql, string named)
    {
        var (source, target, owner) = await SetUpAsync(sql);
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        var before = await OtherRolesObjectsAsync(target, owner);
        var snapshot = await DatabaseSnapshot.TakeAsync(server.Cluster.Superuser(target.Database));

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(restore.ExitCode == 1, $"{what}: {restore}");
        Assert.True(restore.Stderr.Contains($"{named} (owner {owner})", StringComparison.Ordinal), restore.ToString());
        Assert.True(restore.Stderr.Contains("Nothing was changed.", StringComparison.Ordinal), restore.ToString());
        Assert.NotEmpty(before);
        Assert.Equal(before, await OtherRolesObjectsAsync(target, owner));
        Assert.Equal(snapshot, await DatabaseSnapshot.TakeAsync(server.Cluster.Superuser(target.Database)));
        Assert.Equal(3, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM shop.orders"));
    }

    [Fact]
    public async Task Should_Show_Another_Roles_View_In_Check_And_Refuse_It_In_Every_Path_That_Empties()
    {
        var (source, target, owner) = await SetUpAsync("CREATE VIEW public.iv AS SELECT id FROM shop.orders; ALTER VIEW public.iv OWNER TO {owner}");
        var before = await OtherRolesObjectsAsync(target, owner);
        var snapshot = await DatabaseSnapshot.TakeAsync(server.Cluster.Superuser(target.Database));
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        var jobs = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2");
        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var prepare = await Assert.ThrowsAsync<PgRelocateException>(() => TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database }, CancellationToken.None));

        Assert.True(check.Stdout.Contains("BLOCK", StringComparison.Ordinal), check.ToString());
        Assert.True(check.Stdout.Contains($"view public.iv (owner {owner})", StringComparison.Ordinal), check.ToString());
        foreach (var run in new[] { jobs, copy })
        {
            Assert.True(run.ExitCode == 1, run.ToString());
            Assert.True(run.Stderr.Contains($"view public.iv (owner {owner})", StringComparison.Ordinal), run.ToString());
            Assert.True(run.Stderr.Contains("Nothing was changed.", StringComparison.Ordinal), run.ToString());
        }

        Assert.EndsWith("Nothing was changed.", prepare.Message, StringComparison.Ordinal);
        Assert.Equal(before, await OtherRolesObjectsAsync(target, owner));
        Assert.Equal(snapshot, await DatabaseSnapshot.TakeAsync(server.Cluster.Superuser(target.Database)));
    }

    [Fact]
    public async Task Should_Refuse_In_The_Emptying_Itself_When_Another_Roles_Object_Appeared_After_The_Check()
    {
        var (_, target, owner) = await SetUpAsync("SELECT 1");
        var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database }, CancellationToken.None);
        await server.ExecuteAsync(target.Database, $"CREATE VIEW public.late AS SELECT id FROM shop.orders; ALTER VIEW public.late OWNER TO {owner}");

        var e = await Assert.ThrowsAsync<PgRelocateException>(() => prepared.EmptyAsync(NullReporter.Instance, CancellationToken.None));

        Assert.Contains($"view public.late (owner {owner})", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("Nothing was changed.", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_views WHERE viewname = 'late'"));
        Assert.Equal(3, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM shop.orders"));
    }

    [Fact]
    public async Task Should_Name_Another_Roles_Session_Holding_A_Lock_And_Exit_1()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE busy (id int)");
        var target = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "CREATE TABLE busy (id int); INSERT INTO busy VALUES (1)");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        await using var admin = new NpgsqlConnection(server.Cluster.Superuser(target.Database).WithApplicationName("admin-console").ToNpgsqlConnectionString());
        await admin.OpenAsync();
        await using var tx = await admin.BeginTransactionAsync();
        await Db.ExecuteAsync(admin, "LOCK TABLE public.busy IN ACCESS SHARE MODE", CancellationToken.None);

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "3");

        Assert.True(restore.ExitCode == 1, restore.ToString());
        Assert.True(restore.Stderr.Contains($"session {admin.ProcessID}", StringComparison.Ordinal), restore.ToString());
        Assert.True(restore.Stderr.Contains("another role's session", StringComparison.Ordinal), restore.ToString());
        Assert.True(restore.Stderr.Contains("Nothing was changed.", StringComparison.Ordinal), restore.ToString());
        Assert.DoesNotContain("InvalidCastException", restore.Output, StringComparison.Ordinal);
        await tx.RollbackAsync();
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM busy"));
    }

    /// <summary>
    /// A source with the login role's objects, a provider-like target holding the same objects, and another
    /// role owning what <paramref name="sql"/> makes there (as the target's superuser; {owner} is that role).
    /// </summary>
    private async Task<(PgConnectionInfo Source, PgConnectionInfo Target, string Owner)> SetUpAsync(string sql)
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, OwnObjects);
        var target = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(target, OwnObjects);
        var owner = "intruder_" + Guid.NewGuid().ToString("N")[..8];
        await server.ExecuteAsync("postgres", $"CREATE ROLE {owner}");
        await server.ExecuteAsync(target.Database, sql.Replace("{owner}", owner, StringComparison.Ordinal));
        return (source, target, owner);
    }

    /// <summary>
    /// What <paramref name="owner"/> owns in the target, read from the catalogs as the superuser: relations
    /// with their columns, routines, types, the rules, triggers, policies and constraints of its tables,
    /// and its publications with the tables they list, each with its oid.
    /// </summary>
    private async Task<List<string>> OtherRolesObjectsAsync(PgConnectionInfo target, string owner)
    {
        await using var conn = new NpgsqlConnection(server.Cluster.Superuser(target.Database).ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            WITH o AS (SELECT oid FROM pg_roles WHERE rolname = @owner),
            rels AS (SELECT c.oid, c.relkind, c.relname FROM pg_class c WHERE c.relowner IN (SELECT oid FROM o))
            SELECT format('relation %s %s %s', r.oid, r.relkind, r.relname) FROM rels r
            UNION ALL SELECT format('column %s.%s %s', a.attrelid, a.attname, a.atttypid) FROM pg_attribute a
                      WHERE a.attrelid IN (SELECT oid FROM rels) AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL SELECT format('routine %s %s', p.oid, p.oid::regprocedure) FROM pg_proc p WHERE p.proowner IN (SELECT oid FROM o)
            UNION ALL SELECT format('type %s %s', t.oid, t.typname) FROM pg_type t WHERE t.typowner IN (SELECT oid FROM o)
            UNION ALL SELECT format('rule %s %s', w.oid, w.rulename) FROM pg_rewrite w WHERE w.ev_class IN (SELECT oid FROM rels)
            UNION ALL SELECT format('trigger %s %s', g.oid, g.tgname) FROM pg_trigger g WHERE g.tgrelid IN (SELECT oid FROM rels)
            UNION ALL SELECT format('policy %s %s', p.oid, p.polname) FROM pg_policy p WHERE p.polrelid IN (SELECT oid FROM rels)
            UNION ALL SELECT format('constraint %s %s', k.oid, k.conname) FROM pg_constraint k WHERE k.conrelid IN (SELECT oid FROM rels)
            UNION ALL SELECT format('default %s.%s', d.adrelid, d.adnum) FROM pg_attrdef d WHERE d.adrelid IN (SELECT oid FROM rels)
            UNION ALL SELECT format('publication %s %s', p.oid, p.pubname) FROM pg_publication p WHERE p.pubowner IN (SELECT oid FROM o)
            UNION ALL SELECT format('published table %s %s', pr.prpubid, pr.prrelid) FROM pg_publication_rel pr
                      WHERE pr.prpubid IN (SELECT p.oid FROM pg_publication p WHERE p.pubowner IN (SELECT oid FROM o))
            ORDER BY 1
            """, conn);
        cmd.Parameters.AddWithValue("owner", owner);
        var lines = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            lines.Add(r.GetString(0));
        }

        return lines;
    }
}

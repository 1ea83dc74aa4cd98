using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>The catalog vocabulary's queries on a provider-like database: what counts, what belongs to extensions.</summary>
public class CatalogVocabularyTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Find_No_User_Objects_In_A_Database_Holding_Only_The_Providers_Extensions()
    {
        var db = await ProviderTargets.CreateAsync(server);
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        var objects = await UserObjects.ReadAsync(conn, CancellationToken.None);

        Assert.Empty(objects);
    }

    [Fact]
    public async Task Should_Count_What_The_Login_Role_Made_Beside_The_Extensions()
    {
        var db = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(db, """
            CREATE SCHEMA shop;
            CREATE TABLE shop.orders (id int PRIMARY KEY, tags hstore);
            CREATE TYPE public.mood AS ENUM ('ok');
            CREATE AGGREGATE public.total(int) (sfunc = int4pl, stype = int);
            """);
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        var objects = (await UserObjects.ReadAsync(conn, CancellationToken.None)).Select(o => o.ToString()).ToList();

        Assert.Equal(["aggregate public.total(integer)", "schema shop", "table shop.orders", "type public.mood"], objects);
    }

    [Fact]
    public async Task Should_Count_Only_The_Tables_Pg_Dump_Dumps_The_Rows_Of()
    {
        var db = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(db, """
            CREATE TABLE plain (id int);
            CREATE UNLOGGED TABLE scratch (id int);
            CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
            CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE VIEW plain_view AS SELECT * FROM plain;
            """);
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        var facts = await DatabaseFacts.ReadAsync(conn, CancellationToken.None);

        Assert.Equal(["public.events_2026", "public.plain", "public.scratch"], facts.Tables.Select(t => $"{t.Schema}.{t.Name}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Should_Say_Which_Extensions_The_Login_Role_Can_Create()
    {
        var db = await ProviderTargets.CreateAsync(server);
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        var offers = await Extensions.OffersAsync(conn, CancellationToken.None);
        var unusable = await Extensions.UnusableAsync(conn, ["hstore", "pgstattuple", "cube", "pageinspect", "no_such_extension", "plpgsql"], CancellationToken.None);

        Assert.True(offers["pgstattuple"].Installed);
        Assert.False(offers["pgstattuple"].CanCreate);
        Assert.Equal("heroku_ext", offers["pgcrypto"].Schema);
        Assert.True(offers["cube"].CanCreate);
        Assert.False(offers["pageinspect"].CanCreate);
        Assert.Equal([("pageinspect", true), ("no_such_extension", false)], unusable);
    }

    [Fact]
    public async Task Should_Know_The_Same_Database_Through_Two_Connections_And_Tell_Two_Apart()
    {
        var a = await server.CreateDatabaseAsync();
        var b = await server.CreateDatabaseAsync();
        await using var a1 = await Db.OpenAsync(a, "source", CancellationToken.None);
        await using var a2 = await Db.OpenAsync(a.WithApplicationName("another"), "target", CancellationToken.None);
        await using var b1 = await Db.OpenAsync(b, "target", CancellationToken.None);

        Assert.True(await DatabaseIdentity.SameDatabaseAsync(a1, a2, CancellationToken.None));
        Assert.False(await DatabaseIdentity.SameDatabaseAsync(a1, b1, CancellationToken.None));
    }

    [Fact]
    public async Task Should_Read_The_Server_Version_One_Way()
    {
        var db = await server.CreateDatabaseAsync();
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        var version = await ServerVersion.ReadAsync(conn, CancellationToken.None);

        Assert.Equal(conn.PostgreSqlVersion.Major, version.Major);
        Assert.StartsWith($"{version.Major}.", version.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Name_The_Session_Holding_The_Migration_Lock_And_Read_Only_Settings()
    {
        var db = await server.CreateDatabaseAsync();
        await using var holder = new NpgsqlConnection(db.WithApplicationName("pgrelocate migrate").ToNpgsqlConnectionString());
        await holder.OpenAsync();
        Assert.True(await MigrationLock.TryAcquireAsync(holder, CancellationToken.None));
        await server.ExecuteAsync("postgres", $"ALTER DATABASE {Db.Ident(db.Database)} SET default_transaction_read_only = on");
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        var holders = await MigrationLock.HoldersAsync(conn, [], CancellationToken.None);
        var exceptOwn = await MigrationLock.HoldersAsync(conn, [holder.ProcessID], CancellationToken.None);
        var state = await ServerState.ReadAsync(conn, CancellationToken.None);

        var session = Assert.Single(holders);
        Assert.Equal("pgrelocate migrate", session.Application);
        Assert.Equal(db.User, session.User);
        Assert.Contains("pgrelocate migrate", session.ToString(), StringComparison.Ordinal);
        Assert.Empty(exceptOwn);
        Assert.Equal("default_transaction_read_only is on", state.ReadOnlyReason);
        Assert.True(state.FreeSlots.Free > 0);
    }
}

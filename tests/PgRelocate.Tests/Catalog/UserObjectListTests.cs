using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Progress;
using PgRelocate.Targets;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>
/// The emptiness check (UserObjects.sql) and the emptying (EmptyPlan.sql) read one list of the user objects
/// (UserObjectList.sql): every kind the check sees, the emptying drops.
/// </summary>
public class UserObjectListTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Drop_Every_Kind_Of_Object_The_Emptiness_Check_Counts()
    {
        var target = await ProviderTargets.CreateAsync(server);
        // A foreign table needs a server the login role may use; a wrapper without a handler takes no extension.
        await server.ExecuteAsync(target.Database, $"""
            CREATE FOREIGN DATA WRAPPER nowhere;
            CREATE SERVER far FOREIGN DATA WRAPPER nowhere;
            GRANT USAGE ON FOREIGN SERVER far TO {Db.Ident(target.User)};
            """);
        // Everything in public: a schema of its own would go with DROP SCHEMA ... CASCADE, whatever the kinds.
        await PgServer.ExecuteAsync(target, """
            CREATE TABLE public.plain (id int PRIMARY KEY);
            CREATE TABLE public.events (id int, at date) PARTITION BY RANGE (at);
            CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE VIEW public.plain_view AS SELECT * FROM public.plain;
            CREATE MATERIALIZED VIEW public.plain_totals AS SELECT count(*) FROM public.plain;
            CREATE SEQUENCE public.counter;
            CREATE FOREIGN TABLE public.remote (id int) SERVER far;
            CREATE TYPE public.pair AS (a int, b int);
            CREATE TYPE public.mood AS ENUM ('ok');
            CREATE DOMAIN public.positive AS int CHECK (VALUE > 0);
            CREATE TYPE public.span AS RANGE (subtype = int4);
            CREATE FUNCTION public.one() RETURNS int LANGUAGE sql AS 'SELECT 1';
            CREATE PROCEDURE public.nothing() LANGUAGE sql AS 'SELECT 1';
            CREATE AGGREGATE public.total(int) (sfunc = int4pl, stype = int);
            CREATE FUNCTION public.same(int, int) RETURNS boolean LANGUAGE sql AS 'SELECT $1 = $2';
            CREATE OPERATOR public.=== (leftarg = int, rightarg = int, function = public.same);
            CREATE COLLATION public.plain_c (locale = 'C');
            CREATE TEXT SEARCH DICTIONARY public.words (template = simple);
            CREATE TEXT SEARCH CONFIGURATION public.search (copy = pg_catalog.simple);
            CREATE SCHEMA shop;
            SELECT lo_from_bytea(0, 'x');
            """);
        await using (var conn = await Db.OpenAsync(target, "target", CancellationToken.None))
        {
            var kinds = (await UserObjects.ReadAsync(conn, CancellationToken.None)).Select(o => o.Kind).ToHashSet(StringComparer.Ordinal);
            Assert.Equal(
                ["aggregate", "collation", "foreign table", "function", "large object", "materialized view", "operator", "schema", "sequence",
                 "table", "text search configuration", "text search dictionary", "type", "view"],
                kinds.Order(StringComparer.Ordinal));
        }

        var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database }, CancellationToken.None);
        await prepared.EmptyAsync(NullReporter.Instance, CancellationToken.None);

        var again = await TargetPreparation.CheckAsync(target, new TargetRequirements(), CancellationToken.None);
        Assert.Empty(again.Objects);
        Assert.Equal(ProviderTargets.ProviderExtensions, await ProviderTargets.SurvivingAsync(target));
    }
}

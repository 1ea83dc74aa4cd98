using PgRelocate.Connections;
using PgRelocate.Online.Apply;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The statement the carry runs before a table is created in or moved into a schema the source made while following
/// (<c>Online/CarriedSchema.sql</c>), on a real server: it makes the schema once and nothing after, and a login role
/// that may not create schemas is told what to run.
/// </summary>
public class CarriedSchemaTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Make_A_Missing_Schema_Once_And_Say_What_To_Run_When_The_Role_May_Not()
    {
        var db = await server.CreateDatabaseAsync("carried_schema");
        await server.ExecuteAsync(db.Database, "DO $$BEGIN CREATE ROLE carrier LOGIN PASSWORD 'carrier-pw'; EXCEPTION WHEN duplicate_object THEN NULL; END$$");
        await using (var owner = await Db.OpenAsync(db, "target", CancellationToken.None))
        {
            await Db.ExecuteAsync(owner, CarriedTable.SchemaStatement("Billing \"Dept\""), CancellationToken.None);
            await Db.ExecuteAsync(owner, CarriedTable.SchemaStatement("Billing \"Dept\""), CancellationToken.None);
        }

        Assert.Equal(1L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'Billing \"Dept\"'"));

        // Not the database's owner, and no CREATE on it: refused in words that say what to run.
        await using var carrier = await Db.OpenAsync(server.Cluster.As("carrier", "carrier-pw", db.Database), "target", CancellationToken.None);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => Db.ExecuteAsync(carrier, CarriedTable.SchemaStatement("reports"), CancellationToken.None));
        var postgres = Assert.IsType<Npgsql.PostgresException>(Innermost(refused));
        Assert.Equal("the target's login role carrier may not create schema reports, which the source made while following", postgres.MessageText);
        Assert.Equal($"Run CREATE SCHEMA reports on the target as its owner, or GRANT CREATE ON DATABASE {db.Database} TO carrier there.", postgres.Hint);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'reports'"));
    }

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;
}

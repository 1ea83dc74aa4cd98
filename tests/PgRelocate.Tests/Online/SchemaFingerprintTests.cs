using PgRelocate.Connections;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The fingerprint the switch relies on to skip its pg_dump comparison (<see cref="SchemaFingerprint"/>), on a real
/// server: every kind of DDL an application deploys changes it, and what is not DDL (rows written, TRUNCATE, VACUUM,
/// ANALYZE) does not; a trigger's mode changes only its own part. On the oldest and newest servers the tool takes
/// too, whose catalogs differ.
/// </summary>
public abstract class SchemaFingerprintCases(PgServer server)
{
    private const string Schema = """
        CREATE TYPE state AS ENUM ('new', 'paid');
        CREATE TABLE orders (id serial PRIMARY KEY, qty int NOT NULL, state state NOT NULL DEFAULT 'new', note text);
        CREATE TABLE events (at date NOT NULL, v int) PARTITION BY RANGE (at);
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := 'x'; RETURN NEW; END$$;
        CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION touch();
        CREATE VIEW big AS SELECT id FROM orders WHERE qty > 5;
        CREATE SEQUENCE numbers;
        INSERT INTO orders (qty) SELECT g FROM generate_series(1, 100) g;
        """;

    /// <summary>Each a deploy that pg_dump --schema-only would show.</summary>
    public static TheoryData<string> Changes() => new(
        "CREATE INDEX orders_qty ON orders (qty)",
        "ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0)",
        "ALTER TABLE orders ALTER COLUMN note SET DEFAULT 'n'",
        "ALTER TABLE orders ADD COLUMN extra int",
        "ALTER TABLE orders RENAME COLUMN note TO remark",
        "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := 'y'; RETURN NEW; END$$",
        "CREATE OR REPLACE VIEW big AS SELECT id, qty FROM orders WHERE qty > 5",
        "COMMENT ON TABLE orders IS 'Orders'",
        "ALTER TYPE state ADD VALUE 'shipped'",
        "ALTER SEQUENCE numbers INCREMENT 5",
        "DROP TRIGGER orders_touch ON orders",
        "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        "ALTER TABLE events DETACH PARTITION events_2025",
        "ALTER TABLE orders REPLICA IDENTITY FULL",
        "GRANT SELECT ON orders TO PUBLIC",
        "ALTER TABLE orders SET (fillfactor = 80)",
        "DROP VIEW big",
        "CREATE SCHEMA reports");

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Should_Change_With_Every_Deploy(string ddl)
    {
        var db = await server.CreateDatabaseAsync("fingerprint");
        await PgServer.ExecuteAsync(db, Schema);
        var before = await ReadAsync(db);
        Assert.Equal(before, await ReadAsync(db));

        await PgServer.ExecuteAsync(db, ddl);

        Assert.False(before.SameObjects(await ReadAsync(db)), ddl);
    }

    [Fact]
    public async Task Should_Stay_The_Same_Through_Rows_Truncate_Vacuum_And_Analyze_And_Tell_Trigger_Modes_Apart()
    {
        var db = await server.CreateDatabaseAsync("fingerprint_rows");
        await PgServer.ExecuteAsync(db, Schema);
        var before = await ReadAsync(db);

        await PgServer.ExecuteAsync(db, """
            INSERT INTO orders (qty) SELECT g FROM generate_series(1, 1000) g;
            UPDATE orders SET qty = qty + 1 WHERE id % 3 = 0;
            DELETE FROM orders WHERE id % 7 = 0;
            INSERT INTO events VALUES ('2025-03-01', 1);
            SELECT nextval('numbers');
            TRUNCATE events;
            """);
        await PgServer.ExecuteAsync(db, "VACUUM orders");
        await PgServer.ExecuteAsync(db, "ANALYZE");
        Assert.Equal(before, await ReadAsync(db));

        // The follow disables the target's triggers and the switch enables them again: only the modes' part changes.
        await PgServer.ExecuteAsync(db, "ALTER TABLE ONLY orders DISABLE TRIGGER orders_touch");
        var disabled = await ReadAsync(db);
        Assert.True(before.SameObjects(disabled));
        Assert.False(before.Same(disabled));
        await PgServer.ExecuteAsync(db, "ALTER TABLE ONLY orders ENABLE TRIGGER orders_touch");
        Assert.True(before.Same(await ReadAsync(db)));
    }

    private static async Task<SchemaFingerprint> ReadAsync(PgConnectionInfo db)
    {
        await using var conn = await Db.OpenAsync(db, "source", CancellationToken.None);
        return await SchemaFingerprint.ReadAsync(conn, CancellationToken.None);
    }
}

public sealed class SchemaFingerprintTests(PgServer server) : SchemaFingerprintCases(server), IClassFixture<PgServer>;

public sealed class SchemaFingerprint12Tests(Pg12Server server) : SchemaFingerprintCases(server), IClassFixture<Pg12Server>;

public sealed class SchemaFingerprint18Tests(Pg18Server server) : SchemaFingerprintCases(server), IClassFixture<Pg18Server>;

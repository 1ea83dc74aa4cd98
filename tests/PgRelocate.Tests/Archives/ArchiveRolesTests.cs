using PgRelocate.Archives;

namespace PgRelocate.Tests.Archives;

/// <summary>The roles, owners and grants restore --roles reads from an archive's entries as pg_dump writes them.</summary>
public class ArchiveRolesTests
{
    private static ArchiveEntry Entry(int id, string kind, string? schema, string tag, string? owner, string definition, string? drop = null) =>
        new(id, kind, schema, tag, owner, ArchiveSection.PreData, 0, 0, [], definition, drop, null, false, null);

    private static readonly ArchiveEntry[] Entries =
    [
        Entry(1, "SCHEMA", null, "Sales Dept", "app", "CREATE SCHEMA \"Sales Dept\";\n", "DROP SCHEMA \"Sales Dept\";\n"),
        Entry(2, "TABLE", "Sales Dept", "orders", "writer", "CREATE TABLE ...;\n", "DROP TABLE \"Sales Dept\".orders;\n"),
        Entry(3, "SEQUENCE", "Sales Dept", "orders_id_seq", "writer", "CREATE SEQUENCE ...;\n", "DROP SEQUENCE \"Sales Dept\".orders_id_seq;\n"),
        Entry(4, "FUNCTION", "public", "f(integer)", "app", "CREATE FUNCTION ...;\n", "DROP FUNCTION public.f(integer);\n"),
        Entry(5, "SCHEMA", null, "public", "app", "", ""),
        Entry(6, "BLOB", null, "16403", "team", "SELECT pg_catalog.lo_create('16403');\n", "SELECT pg_catalog.lo_unlink('16403');\n"),
        Entry(7, "ACL", "Sales Dept", "TABLE orders", "writer",
            "GRANT SELECT ON TABLE \"Sales Dept\".orders TO readers;\nGRANT INSERT ON TABLE \"Sales Dept\".orders TO \"Odd \"\"One\"\"\" WITH GRANT OPTION;\nSET SESSION AUTHORIZATION grantor;\nGRANT SELECT(id) ON TABLE \"Sales Dept\".orders TO PUBLIC;\nRESET SESSION AUTHORIZATION;\n"),
        Entry(8, "DEFAULT ACL", "Sales Dept", "DEFAULT PRIVILEGES FOR TABLES", "team",
            "ALTER DEFAULT PRIVILEGES FOR ROLE team IN SCHEMA \"Sales Dept\" GRANT SELECT ON TABLES TO analysts;\n"),
        Entry(9, "POLICY", "Sales Dept", "orders recent", "writer",
            "CREATE POLICY recent ON \"Sales Dept\".orders FOR SELECT TO analysts, auditor USING ((id IN ( SELECT x.id FROM \"Sales Dept\".ids x WHERE (x.who = CURRENT_USER))));\n"),
        Entry(10, "ACL", null, "DATABASE shop", null, "REVOKE CONNECT,TEMPORARY ON DATABASE shop FROM PUBLIC;\nGRANT CONNECT ON DATABASE shop TO reporter;\n"),
    ];

    [Fact]
    public void Reads_Every_Role_An_Archive_Names_And_Which_Own_Something()
    {
        var (named, owners) = ArchiveRoles.Read(Entries);

        Assert.Equal(["Odd \"One\"", "analysts", "app", "auditor", "grantor", "readers", "reporter", "team", "writer"], named);
        Assert.Equal(["app", "team", "writer"], owners);
    }

    [Fact]
    public void Owners_Are_Named_As_The_Drop_Statements_Name_Them_Sequences_After_Tables_Schemas_And_Large_Objects_Last()
    {
        Assert.Equal(
        [
            ("TABLE \"Sales Dept\".orders", "\"Sales Dept\"", "writer"),
            ("FUNCTION public.f(integer)", "\"public\"", "app"),
            ("SEQUENCE \"Sales Dept\".orders_id_seq", "\"Sales Dept\"", "writer"),
            ("SCHEMA \"Sales Dept\"", null, "app"),
            ("SCHEMA \"public\"", null, "app"),
            ("LARGE OBJECT 16403", null, "team"),
        ], ArchiveRoles.Owners(Entries));
    }

    [Fact]
    public void Grants_Are_The_Acl_Entries_With_The_Source_Database_Named_As_The_Target()
    {
        var grants = ArchiveRoles.Grants(Entries, "new db");

        Assert.Equal(3, grants.Count);
        Assert.Equal("REVOKE CONNECT,TEMPORARY ON DATABASE \"new db\" FROM PUBLIC;\nGRANT CONNECT ON DATABASE \"new db\" TO reporter;\n", grants[2]);
        Assert.StartsWith("ALTER DEFAULT PRIVILEGES FOR ROLE team", grants[1], StringComparison.Ordinal);
    }
}

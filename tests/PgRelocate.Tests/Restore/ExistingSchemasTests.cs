using PgRelocate.Archives;
using PgRelocate.Catalog;
using PgRelocate.Restore;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// The schemas a prepared target already has (the provider's extension schemas) are left out of a restore, with
/// what only decorates them; and an extension the target has in another schema is named.
/// </summary>
public sealed class ExistingSchemasTests
{
    private static readonly ArchiveEntry[] Toc =
    [
        E(10, "SCHEMA", null, "heroku_ext", "CREATE SCHEMA heroku_ext;\n"),
        E(11, "COMMENT", null, "SCHEMA heroku_ext", "COMMENT ON SCHEMA heroku_ext IS 'x';\n"),
        E(12, "ACL", null, "SCHEMA heroku_ext", "GRANT USAGE ON SCHEMA heroku_ext TO PUBLIC;\n"),
        E(13, "SCHEMA", null, "Sales Dept", "CREATE SCHEMA \"Sales Dept\";\n"),
        E(14, "COMMENT", null, "SCHEMA Sales Dept", "COMMENT ON SCHEMA \"Sales Dept\" IS 'y';\n"),
        E(15, "EXTENSION", null, "pg_trgm", "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA heroku_ext;\n"),
        E(16, "TABLE", "heroku_ext", "t", "CREATE TABLE heroku_ext.t (id integer);\n"),
        E(17, "EXTENSION", null, "relocate_demo", "CREATE EXTENSION IF NOT EXISTS relocate_demo WITH SCHEMA \"Odd \"\"schema\"\"\";\n"),
        E(18, "SCHEMA", null, "public", "CREATE SCHEMA public;\n"),
        E(19, "SCHEMA", null, "empty", ""),
    ];

    private static ArchiveEntry E(int id, string kind, string? schema, string tag, string definition) =>
        new(id, kind, schema, tag, "postgres", ArchiveSection.PreData, 0, (uint)id, [], definition, null, null, false, null);

    [Fact]
    public void Should_Leave_Out_A_Schema_The_Target_Has_With_Its_Comment_And_Grants_And_Note_It()
    {
        var existing = ExistingSchemas.Find(Toc, new HashSet<string>(["public", "heroku_ext", "pg_catalog", "empty"]));

        // pg_restore never creates public itself, and an entry with no statement creates nothing: both stay.
        Assert.Equal([10, 11, 12], existing.LeftOut.Order());
        Assert.Equal([13, 14, 15, 16, 17, 18, 19], existing.Restored(Toc).Select(e => e.Id));
        var note = Assert.Single(existing.Notes);
        Assert.True(note.IsHarmless);
        Assert.Contains("heroku_ext", note.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Select_Everything_When_The_Target_Has_None_Of_The_Schemas()
    {
        var existing = ExistingSchemas.Find(Toc, new HashSet<string>(["public"]));

        Assert.Empty(existing.LeftOut);
        Assert.Empty(existing.Notes);
        Assert.Null(await existing.ListFileAsync(Toc, Path.Combine(Path.GetTempPath(), "never-written.list"), CancellationToken.None));
    }

    [Fact]
    public async Task Should_Write_A_List_Without_The_Entries_Left_Out()
    {
        var path = Path.Combine(Path.GetTempPath(), $"existing-schemas-{Guid.NewGuid():N}.list");
        try
        {
            var existing = ExistingSchemas.Find(Toc, new HashSet<string>(["heroku_ext"]));
            var list = await existing.ListFileAsync(Toc, path, CancellationToken.None);

            Assert.Equal(path, list);
            Assert.Equal(["13;", "14;", "15;", "16;", "17;", "18;", "19;"], File.ReadAllLines(path).Select(l => l[..(l.IndexOf(';', StringComparison.Ordinal) + 1)]));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Should_Read_Each_Extensions_Schema_And_Name_Those_The_Target_Has_Elsewhere()
    {
        var archive = Toc.Where(e => e.Kind == "EXTENSION").Select(e => (e.Tag, ArchiveContents.ExtensionSchema(e.Definition)!)).ToList();
        Assert.Equal([("pg_trgm", "heroku_ext"), ("relocate_demo", "Odd \"schema\"")], archive);

        var moved = Extensions.InOtherSchemas(archive, [new ExtensionInfo("pg_trgm", "1.6", "public"), new ExtensionInfo("relocate_demo", "1.0", "Odd \"schema\"")]);

        Assert.Equal(["pg_trgm: in heroku_ext on the source, in public on the target"], moved);
    }
}

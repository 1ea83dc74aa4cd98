using PgRelocate.Connections;
using PgRelocate.Poolers;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online.PgBouncer;

/// <summary>The entry's rewrite: only its connection keys change, every other line and key stays, the file keeps its mode.</summary>
public class PgBouncerIniTests
{
    private const string Ini = """
        ; the application's pooler
        [databases]
        other = host=10.0.0.9 dbname=other
        app = host=old.example port=5433 dbname=app user=app_owner password='it''s a secret' pool_size=40 pool_mode=transaction

        [pgbouncer]
        ; app = host=not-this-one
        listen_port = 6432
        """;

    [Fact]
    public void Should_Find_The_Entry_Of_The_Databases_Section_Only_With_Its_Server()
    {
        var entry = PgBouncerIni.Find(Ini.Split('\n'), "app")!;
        Assert.Equal(("old.example", 5433, "app"), entry.Server);
        Assert.Equal("40", entry.Get("pool_size"));
        Assert.Equal(("10.0.0.9", 5432, "other"), PgBouncerIni.Find(Ini.Split('\n'), "other")!.Server);
        Assert.Null(PgBouncerIni.Find(Ini.Split('\n'), "listen_port"));
    }

    [Fact]
    public void Should_Repoint_In_Place_Keeping_The_Other_Keys_Lines_And_Mode_And_The_File_As_It_Was_Beside_It()
    {
        using var dir = new TempDir();
        var file = dir.File("pgbouncer.ini");
        File.WriteAllText(file, Ini);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var target = PgConnectionInfo.Parse("postgresql://new_owner:p%20w%27d@new.example:6543/app_new");

        PgBouncerIni.Repoint(file, "app", target, file + ".before");

        var lines = File.ReadAllLines(file);
        var entry = PgBouncerIni.Find(lines, "app")!;
        Assert.Equal(("new.example", 6543, "app_new"), entry.Server);
        Assert.Equal("new_owner", entry.Get("user"));
        Assert.Equal("p w'd", entry.Get("password"));
        Assert.Equal("40", entry.Get("pool_size"));
        Assert.Equal("transaction", entry.Get("pool_mode"));
        Assert.Equal(Ini.Split('\n').Where(l => !l.StartsWith("app ", StringComparison.Ordinal)), lines.Where(l => !l.StartsWith("app ", StringComparison.Ordinal)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(file));
        Assert.Equal(Ini, File.ReadAllText(file + ".before"));

        PgBouncerIni.Restore(file, file + ".before");
        Assert.Equal(("old.example", 5433, "app"), PgBouncerIni.Find(File.ReadAllLines(file), "app")!.Server);
    }
}

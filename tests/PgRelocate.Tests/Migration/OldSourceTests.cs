using PgRelocate.Tests.Copy;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// A PostgreSQL 12 source into a PostgreSQL 17 target: the way off an old provider's server. Verification
/// there hashes rows from their text (hash_record_extended is PostgreSQL 14's), and must still name a change.
/// </summary>
[Heavy(40)]
public sealed class OldSourceTests(Pg12Server source, Pg17Server target) : IClassFixture<Pg12Server>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task Should_Migrate_Every_Column_Type_From_PostgreSQL_12_And_Verify_It()
    {
        // (Not the sample database: pgcrypto is a trusted extension only from PostgreSQL 13.)
        var src = await source.CreateDatabaseAsync("old_migrate");
        await PgServer.ExecuteAsync(src, CopyTests.TypesSql);
        var dst = await target.CreateDatabaseAsync("old_migrate_target");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(src), "-t", CliRunner.Url(dst), "--confirm", dst.Database, "--workdir", dir.Path, "--jobs", "2"], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(src, dst);
    }

    [Fact]
    public async Task Should_Copy_Every_Column_Type_From_PostgreSQL_12_And_Name_A_Changed_Row()
    {
        var src = await source.CreateDatabaseAsync("old_types");
        await PgServer.ExecuteAsync(src, CopyTests.TypesSql);
        var dst = await target.CreateDatabaseAsync("old_types_target");

        var copy = await CliRunner.RunAsync("copy", "-s", CliRunner.Url(src), "-t", CliRunner.Url(dst), "-j", "2", "--split-tables-larger-than", "1");
        var copied = await Record.ExceptionAsync(() => DatabaseSnapshot.AssertSameAsync(src, dst));
        var same = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(src), "--target", CliRunner.Url(dst));
        await PgServer.ExecuteAsync(dst, "UPDATE wide SET pad = 'changed' WHERE id = 4242; SELECT lo_put(oid, 0, 'S') FROM pg_largeobject_metadata WHERE lo_get(oid) = 'small large object'");
        var changed = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(src), "--target", CliRunner.Url(dst));

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Null(copied?.Message);
        Assert.True(changed.ExitCode == 3, changed.ToString());
        Assert.Contains("public.wide", changed.Stdout, StringComparison.Ordinal);
        Assert.Contains("4242", changed.Stdout, StringComparison.Ordinal);
        Assert.Contains("large object", changed.Stdout, StringComparison.Ordinal);
    }
}

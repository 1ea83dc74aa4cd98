using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Clusters;

public class LocalClusterTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Accept_Password_Logins_From_A_Non_Superuser_Owner()
    {
        var db = await server.CreateDatabaseAsync("smoke");

        var isSuper = await PgServer.ScalarAsync<bool>(db, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
        var owner = await PgServer.ScalarAsync<string>(db, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()");

        Assert.False(isSuper);
        Assert.Equal(db.User, owner);
    }

    [Fact]
    public async Task Should_Refuse_A_Wrong_Password()
    {
        var db = await server.CreateDatabaseAsync("smoke");
        var wrong = db.WithCredentials(db.User, "not-the-password");

        var e = await Assert.ThrowsAsync<PgRelocate.Errors.PgRelocateException>(() => PgRelocate.Connections.Db.OpenAsync(wrong, "source", CancellationToken.None));

        Assert.Contains("Password authentication failed", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>Clusters copied from one initdb (see LocalCluster's templates) are as distinct as clusters initdb made each.</summary>
public class LocalClusterTemplateTests
{
    [Fact]
    public async Task Two_Clusters_From_One_Initdb_Have_Their_Own_System_Identifiers_And_Are_Different_Databases()
    {
        var options = new PgRelocate.Clusters.LocalClusterOptions { Name = "twin" };
        await using var first = await PgRelocate.Clusters.LocalCluster.StartAsync(options, CancellationToken.None);
        await using var second = await PgRelocate.Clusters.LocalCluster.StartAsync(options, CancellationToken.None);
        Secrets.Register(first.Superuser().ToNpgsqlConnectionString().Split(';').First(p => p.StartsWith("Password=", StringComparison.Ordinal))["Password=".Length..]);
        await first.ExecuteAsync("CREATE DATABASE twin");
        await second.ExecuteAsync("CREATE DATABASE twin");

        await using var a = await PgRelocate.Connections.Db.OpenAsync(first.Superuser("twin"), "source", CancellationToken.None);
        await using var b = await PgRelocate.Connections.Db.OpenAsync(second.Superuser("twin"), "target", CancellationToken.None);
        var identities = new[]
        {
            await PgRelocate.Catalog.DatabaseIdentity.ReadAsync(a, CancellationToken.None),
            await PgRelocate.Catalog.DatabaseIdentity.ReadAsync(b, CancellationToken.None),
        };

        // The same name and, both clusters starting from the same files, the same oid: only the system identifiers differ.
        Assert.Equal(identities[0].DatabaseOid, identities[1].DatabaseOid);
        Assert.NotEqual(identities[0].SystemIdentifier, identities[1].SystemIdentifier);
        Assert.False(await PgRelocate.Catalog.DatabaseIdentity.SameDatabaseAsync(a, b, CancellationToken.None));
        // The server reads the identifier written into its files.
        await first.StopAsync();
        Assert.Equal(identities[0].SystemIdentifier, PgRelocate.Clusters.SystemIdentifier.Read(first.DataDir).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Should_Compute_Crc32C_As_PostgreSQL_Does()
    {
        // The check value of CRC-32C (Castagnoli), as PostgreSQL's pg_crc32c computes it.
        Assert.Equal(0xE3069283u, PgRelocate.Clusters.SystemIdentifier.Crc32C("123456789"u8));
    }
}

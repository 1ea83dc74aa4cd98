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

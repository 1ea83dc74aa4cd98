using PgRelocate.Poolers;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;
using PgRelocate.Tools;

namespace PgRelocate.Tests.Online.PgBouncer;

/// <summary>
/// The console's logins made ahead of their commands (<see cref="PgBouncerConsole.LogIn"/>), which the switch behind
/// PgBouncer makes while its other phases run: the login is there before the commands come, they run on it, a
/// refusal is the console's as without it, and a login left unused ends.
/// </summary>
public class PgBouncerConsoleTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Run_Commands_Given_Later_On_A_Login_Made_Before_Them()
    {
        Assert.True(PgBouncerServer.Installed, "pgbouncer is not installed: run scripts/setup.sh");
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY);");
        await using var bouncer = await PgBouncerServer.StartAsync(source, "app");
        var console = PgBouncerConsole.For(bouncer.Admin, new PgBinaries(null));
        // Counted on the console itself: the clients logged in to it, the count's own among them.
        async Task<int> LoggedInAsync() => (await console.ShowAsync("CLIENTS", CancellationToken.None)).Count(c => c.GetValueOrDefault("database") == "pgbouncer");
        var alone = await LoggedInAsync();

        await using (var login = console.LogIn())
        {
            await WaitForAsync(async () => await LoggedInAsync() == alone + 1, "the login made ahead of its commands");
            var databases = await console.ExecuteThenShowAsync("RELOAD", "DATABASES", CancellationToken.None, login);
            Assert.Contains(databases, d => d.GetValueOrDefault("name") == bouncer.Entry && d.GetValueOrDefault("port") == source.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await Assert.ThrowsAsync<InvalidOperationException>(() => login.RunAsync(["SHOW VERSION"], CancellationToken.None));
        }

        await using (var refusing = console.LogIn())
        {
            var refused = await Assert.ThrowsAsync<PgBouncerRefusedException>(() => console.ExecuteAsync("RESUME \"no such entry\"", CancellationToken.None, refusing));
            Assert.Contains("RESUME", refused.Message, StringComparison.Ordinal);
        }

        var unused = console.LogIn();
        await WaitForAsync(async () => await LoggedInAsync() == alone + 1, "the unused login");
        await unused.DisposeAsync();
        await WaitForAsync(async () => await LoggedInAsync() == alone, "the unused login's end");
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        for (var waited = 0; !await condition(); waited += 50)
        {
            Assert.True(waited < 10_000, $"{what}: not seen on the console within 10 s");
            await Task.Delay(50);
        }
    }
}

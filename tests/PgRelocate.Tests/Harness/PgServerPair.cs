namespace PgRelocate.Tests.Harness;

/// <summary>
/// A source and a target cluster for one test class, started side by side (use as
/// <c>IClassFixture&lt;PgServerPair&gt;</c>, or subclass it to prepare more, such as a loaded sample database).
/// </summary>
public class PgServerPair : IAsyncLifetime
{
    public PgServer Source { get; } = new();

    public PgServer Target { get; } = new();

    public virtual async Task InitializeAsync() => await Task.WhenAll(Source.InitializeAsync(), Target.InitializeAsync());

    public virtual async Task DisposeAsync() => await Task.WhenAll(Source.DisposeAsync(), Target.DisposeAsync());
}

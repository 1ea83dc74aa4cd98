namespace PgRelocate.Tests;

/// <summary>
/// The suite's two tiers. `make test` (what CI runs) runs every test but the long tier's; `make test-all` runs them
/// all. The long tier holds tests whose path, feature and failure the other tier already covers at a smaller size or
/// in one representative case: the same path at real size or under a memory limit, further kill points and
/// variants of an instance migration, a rollback or a recovery, the demos beside the tests of what they run. On a
/// two-core machine the whole suite takes about 40 minutes, over the 30 CI allows; see docs/testing.md for the list
/// and when to run it (before a release, after a change to the code those tests reach).
/// </summary>
public static class Tier
{
    /// <summary>The trait's name: <c>[Trait(Tier.Name, Tier.Long)]</c>.</summary>
    public const string Name = "Tier";

    /// <summary>The long tier: left out of `make test` (its filter is <c>Tier!=Long</c>), run by `make test-all`.</summary>
    public const string Long = "Long";
}

using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Staging;

// Each server starts once for all the test classes of its collection.
[CollectionDefinition(Name)]
[Heavy(285)]
public sealed class SwiftCollection : ICollectionFixture<SwiftServer>
{
    public const string Name = "Swift";
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteServer>
{
    public const string Name = "Azurite";
}

[CollectionDefinition(Name)]
[Heavy(120)]
public sealed class S3rverCollection : ICollectionFixture<S3rverServer>
{
    public const string Name = "S3rver";
}

using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("PgRelocate.Tests.Harness.HeaviestFirst", "PgRelocate.Tests")]

namespace PgRelocate.Tests.Harness;

/// <summary>
/// About how many seconds a test class's tests take together (or, on a collection definition, the whole
/// collection's) on a busy two-core machine running the suite. Only classes that take a minute or so carry it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class HeavyAttribute(int seconds) : Attribute
{
    public int Seconds { get; } = seconds;
}

/// <summary>
/// Starts the heaviest test collections first. A collection runs its tests one after another, and only a few
/// collections run at once; a long one started late would run alone at the end while the other cores idle,
/// so the suite starts the long ones first and lets the short ones fill in around them.
/// </summary>
public sealed class HeaviestFirst : ITestCollectionOrderer
{
    /// <summary>A class without <see cref="HeavyAttribute"/>: seconds it is taken to last.</summary>
    private const int Light = 10;

    private const string PerClassPrefix = "Test collection for ";

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections
            .Select(c => (Collection: c, Seconds: Seconds(c)))
            .OrderByDescending(c => c.Seconds)
            .ThenBy(c => c.Collection.DisplayName, StringComparer.Ordinal)
            .Select(c => c.Collection);

    /// <summary>The weight of a named collection's definition, or of the class a per-class collection holds.</summary>
    public static int Seconds(ITestCollection collection)
    {
        var type = collection.CollectionDefinition?.ToRuntimeType()
            ?? (collection.DisplayName.StartsWith(PerClassPrefix, StringComparison.Ordinal)
                ? typeof(HeaviestFirst).Assembly.GetType(collection.DisplayName[PerClassPrefix.Length..])
                : null);
        return type?.GetCustomAttribute<HeavyAttribute>()?.Seconds ?? Light;
    }
}

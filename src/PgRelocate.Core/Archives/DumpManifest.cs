using System.Text.Json;
using System.Text.Json.Serialization;
using PgRelocate.Catalog;
using PgRelocate.Errors;

namespace PgRelocate.Archives;

/// <summary>
/// What we know about an archive, written next to it as <c>ARCHIVE.manifest.json</c>: where it came from,
/// how big it is and its SHA-256, so a restore can prove it reads the very bytes the dump wrote.
/// It holds no secrets: the source is named by host, port and database only.
/// </summary>
public sealed record DumpManifest
{
    public const string Suffix = ".manifest.json";

    public int ManifestVersion { get; init; } = 1;

    public required string Source { get; init; }

    public required string SourceServerVersion { get; init; }

    public required long DatabaseSizeBytes { get; init; }

    public required string PgDumpVersion { get; init; }

    public required long ArchiveBytes { get; init; }

    public required string Sha256 { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required DateTimeOffset FinishedAt { get; init; }

    public required IReadOnlyList<ExtensionInfo> Extensions { get; init; }

    public required IReadOnlyList<TableEstimate> Tables { get; init; }

    public long LargeObjects { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, ManifestJson.Default.DumpManifest);

    /// <summary>The manifest version this PgRelocate writes and reads.</summary>
    public const int CurrentVersion = 1;

    public static DumpManifest FromJson(string json, string what)
    {
        DumpManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(json, ManifestJson.Default.DumpManifest)
                ?? throw new UsageException($"{what} is empty: it is not a PgRelocate manifest.");
        }
        catch (JsonException e)
        {
            throw new UsageException($"{what} is not a PgRelocate manifest ({e.Message}).", e);
        }

        // A version this code does not know may mean fields it would misread or checks it would leave out.
        if (manifest.ManifestVersion != CurrentVersion)
        {
            throw new UsageException($"{what} has manifestVersion {manifest.ManifestVersion}, which this PgRelocate does not read (it reads version {CurrentVersion}): use the PgRelocate that wrote it, or pass --manifest with a manifest of version {CurrentVersion}.");
        }

        return manifest;
    }

    /// <summary>Where the manifest of <paramref name="archivePath"/> is kept.</summary>
    public static string PathFor(string archivePath) => archivePath + Suffix;
}

/// <summary>The manifest's JSON (indented, camelCase, nulls left out), its reading and writing generated when the tool is built.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DumpManifest))]
internal sealed partial class ManifestJson : JsonSerializerContext;

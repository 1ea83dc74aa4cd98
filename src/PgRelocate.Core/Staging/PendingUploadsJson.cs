using System.Text.Json.Serialization;

namespace PgRelocate.Staging;

/// <summary>The record of an upload under way (<see cref="PendingUploads"/>): camelCase JSON, generated when the tool is built.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(PendingUploads.Record))]
internal sealed partial class PendingUploadsJson : JsonSerializerContext;

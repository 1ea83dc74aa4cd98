using System.Text.Json.Serialization;

namespace PgRelocate.Online;

/// <summary>An online migration's status file (<see cref="OnlineStatus"/>): camelCase JSON, generated when the tool is built.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(OnlineStatus))]
internal sealed partial class OnlineStatusJson : JsonSerializerContext;

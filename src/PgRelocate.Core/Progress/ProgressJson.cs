using System.Text.Json.Serialization;

namespace PgRelocate.Progress;

/// <summary>
/// A migration's progress file (the last update of each task, read by <c>status</c> from another process): camelCase
/// JSON whose reading and writing are generated when the tool is built, as every JSON the tool reads or writes is.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<ProgressUpdate>))]
internal sealed partial class ProgressJson : JsonSerializerContext;

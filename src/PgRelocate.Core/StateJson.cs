using System.Text.Json.Serialization;
using PgRelocate.Online;
using PgRelocate.Progress;
using PgRelocate.Staging;

namespace PgRelocate;

/// <summary>
/// The small state files a run leaves for other processes (a migration's progress and its online status, the record
/// of an upload under way): camelCase JSON whose reading and writing are generated when the tool is built, as
/// every JSON the tool reads or writes is, so that nothing is worked out by reflection as it runs.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<ProgressUpdate>))]
[JsonSerializable(typeof(OnlineStatus))]
[JsonSerializable(typeof(PendingUploads.Record))]
internal sealed partial class StateJson : JsonSerializerContext;

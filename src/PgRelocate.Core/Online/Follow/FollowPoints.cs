using NpgsqlTypes;

namespace PgRelocate.Online.Follow;

/// <summary>
/// Where a follow stands, for the condition that ends it: <see cref="CaughtUp"/> when the source has sent
/// nothing new for a moment and all of it is applied; otherwise <see cref="LagSeconds"/> is how far behind the
/// target is in time (infinite before the first transaction), which a busy source's follow uses, never idle.
/// <see cref="Marker"/> is the last marker (<see cref="MarkerChange"/>) committed on the target: everything the
/// source committed before it is committed there too.
/// </summary>
internal sealed record FollowPoint(bool CaughtUp, NpgsqlLogSequenceNumber Received, NpgsqlLogSequenceNumber Applied, double LagSeconds, string? Marker = null);

/// <summary>
/// Where a follow pauses (a snapshot's position). <see cref="Marked"/>: a transaction committed after it is
/// sure to come (a marker was written into the source's WAL), so only reaching one pauses the follow, which is
/// exact; otherwise a quiet source's follow also pauses once it has received past the position with nothing
/// more coming.
/// </summary>
internal sealed record PausePoint(NpgsqlLogSequenceNumber At, bool Marked);

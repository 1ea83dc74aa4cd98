namespace PgRelocate.Online;

/// <summary>
/// What the follow calls its two sides in what it says and in its connection errors: the database its stream comes
/// from and the one it applies to. The forward follow's source and target, or the way back's (by a slot) target and
/// old source, so that a line of the way back never says "source" where it means the target.
/// </summary>
internal sealed record FollowSides(string Source, string Target)
{
    /// <summary>The online migration's follow: from the source into the target.</summary>
    public static readonly FollowSides Forward = new("source", "target");

    /// <summary>The way back by a slot: from the target into the old source.</summary>
    public static readonly FollowSides Back = new("target", "old source");
}
